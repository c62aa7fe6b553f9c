/* bench_record: cost of recording, measured in the loop users write.
 *
 *   bench_record [-t THREADS] [-n EVENTS_PER_THREAD] [-o FILE] [--off | --lttng |
 *                --flight SPAN]
 *
 * Each thread runs CTRACE_REGION_BEGIN / CTRACE_REGION_END pairs in a tight
 * loop (EVENTS_PER_THREAD events: begin and end each count as one) between
 * two clock reads; the threads start together at a barrier. With --off the
 * same loop runs with tracing never started (the macro's disabled branch).
 * --lttng is --off for the native trace, named for what bench/lttng.sh does
 * with it: an LTTng session records the ctrace:* tracepoints instead.
 * --flight SPAN records in flight-recorder mode (CTRACE_FLIGHT's syntax:
 * 1s, 4MiB, 1s,4MiB), then dumps the window to FILE and prints what the
 * recorder held (ring and definitions vs the cap) and how long the dump
 * took (bench/flight.sh).
 * Prints one line of key=value figures; bench/run.sh takes medians. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <ctrace/ctrace.h>

/* The flight recorder's internals the library exports for tests and this
 * bench (common.h, tracer/runtime/internal.h). */
#include "common.h"
#include "internal.h"

static long n_events = 50000000;
static pthread_barrier_t barrier;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct result {
  double wall_ns; /* per event, wall clock */
  double cpu_ns;  /* per event, this thread's CPU time */
} result;

static void *loop(void *arg) {
  result *res = arg;
  long pairs = n_events / 2;
  pthread_barrier_wait(&barrier);
  uint64_t t0 = now_ns(), c0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
  for (long i = 0; i < pairs; i++) {
    CTRACE_REGION_BEGIN("bench");
    CTRACE_REGION_END();
  }
  uint64_t t1 = now_ns(), c1 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
  res->wall_ns = (double)(t1 - t0) / (double)(pairs * 2);
  res->cpu_ns = (double)(c1 - c0) / (double)(pairs * 2);
  return NULL;
}

int main(int argc, char **argv) {
  int threads = 1, off = 0, lttng = 0;
  const char *path = "bench.ctrace", *flight = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-t") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-n") && i + 1 < argc)
      n_events = atol(argv[++i]);
    else if (!strcmp(argv[i], "-o") && i + 1 < argc)
      path = argv[++i];
    else if (!strcmp(argv[i], "--off"))
      off = 1;
    else if (!strcmp(argv[i], "--lttng"))
      off = lttng = 1;
    else if (!strcmp(argv[i], "--flight") && i + 1 < argc)
      flight = argv[++i];
    else {
      fprintf(stderr, "usage: bench_record [-t THREADS] [-n EVENTS_PER_THREAD] [-o FILE] "
                      "[--off | --lttng | --flight SPAN]\n");
      return 2;
    }
  }
  if (threads < 1 || threads > 64 || n_events < 2) {
    fprintf(stderr, "bench_record: bad -t or -n\n");
    return 2;
  }
  if (!off) {
    ctrace_options o = CTRACE_OPTIONS_INIT;
    o.path = path;
    if (flight) {
      uint64_t ms, bytes;
      if (ctrace__flight_parse(flight, &ms, &bytes) != 0) {
        fprintf(stderr, "bench_record: --flight %s: " CTRACE__FLIGHT_SYNTAX "\n", flight);
        return 2;
      }
      o.mode = CTRACE_MODE_FLIGHT;
      o.flight_window_ms = (uint32_t)ms;
      o.flight_bytes = bytes;
    }
    int r = ctrace_start(&o);
    if (r) {
      fprintf(stderr, "bench_record: ctrace_start: %s\n", ctrace_strerror(r));
      return 1;
    }
  }
  pthread_barrier_init(&barrier, NULL, (unsigned)threads);
  pthread_t tid[64];
  result res[64];
  uint64_t proc0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID), wall0 = now_ns();
  for (int i = 0; i < threads; i++)
    pthread_create(&tid[i], NULL, loop, &res[i]);
  double sum = 0, worst = 0, cpu = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(tid[i], NULL);
    sum += res[i].wall_ns;
    cpu += res[i].cpu_ns;
    if (res[i].wall_ns > worst)
      worst = res[i].wall_ns;
  }
  /* Process CPU minus the loops' CPU: what the writer (and the rest) used. */
  double other_cpu = (double)(cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - proc0) - cpu * (double)n_events;
  double wall_total = (double)(now_ns() - wall0);
  char flight_figures[512] = "";
  if (flight) {     /* the window as it is now, then a dump of it */
    ctrace_flush(); /* (the writer has taken everything) */
    ctrace__flight_stats st;
    ctrace__flight_stats_get(&st);
    uint64_t d0 = now_ns();
    int dr = ctrace_flight_dump(path);
    double dump_ms = (double)(now_ns() - d0) / 1e6;
    struct stat ds;
    long long dbytes = stat(path, &ds) == 0 ? (long long)ds.st_size : -1;
    snprintf(flight_figures, sizeof flight_figures,
             " flight=%s window_ms=%llu cap_bytes=%llu ring_bytes=%llu defs_bytes=%llu "
             "peak_bytes=%llu ring_alloc=%llu ring_records=%llu evicted=%llu dump_ms=%.2f "
             "dump_bytes=%lld dump_status=%s",
             flight, (unsigned long long)st.window_ms, (unsigned long long)st.cap_bytes,
             (unsigned long long)st.ring_bytes, (unsigned long long)st.defs_bytes,
             (unsigned long long)st.peak_bytes, (unsigned long long)st.ring_alloc,
             (unsigned long long)st.ring_records, (unsigned long long)st.evicted_records, dump_ms,
             dbytes, dr ? ctrace_err_name(dr) : "ok");
  }
  uint64_t t_stop = now_ns();
  int r = off ? 0 : ctrace_stop();
  double stop_ms = (double)(now_ns() - t_stop) / 1e6;
  uint64_t dropped = ctrace_dropped_events();
  long long bytes = 0;
  struct stat st;
  if (!off && !flight && stat(path, &st) == 0)
    bytes = (long long)st.st_size;
  double total = (double)n_events * threads;
  printf("mode=%s threads=%d events_per_thread=%ld ns_per_event=%.3f worst_thread_ns=%.3f "
         "cpu_ns_per_event=%.3f writer_cpu_ns_per_event=%.3f writer_cpu_share=%.3f "
         "stop_ms=%.1f file_bytes=%lld bytes_per_event=%.4f dropped=%llu status=%s%s\n",
         lttng    ? "lttng"
         : off    ? "off"
         : flight ? "flight"
                  : "on",
         threads, n_events, sum / threads, worst, cpu / threads, other_cpu / total,
         other_cpu / (wall_total * threads), stop_ms, bytes, off ? 0.0 : (double)bytes / total,
         (unsigned long long)dropped, r ? ctrace_err_name(r) : "ok", flight_figures);
  return r && r != CTRACE_ELOST ? 1 : 0;
}
