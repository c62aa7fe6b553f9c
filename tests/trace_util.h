/* Loads a whole trace into memory for assertions (tests only: real tools
 * stream). */
#ifndef CTRACE_TESTS_TRACE_UTIL_H
#define CTRACE_TESTS_TRACE_UTIL_H

#include <cjson/cJSON.h>

#include "read.h"

typedef struct tev {
  uint64_t ts;
  uint64_t tick; /* the raw timestamp */
  uint8_t type;
  uint64_t arg[CTRACE_FMT_EVENT_MAX_VARINTS];
  char *str; /* copy of the string argument, or NULL */
  uint32_t thread;
} tev;

typedef struct tthread {
  const rd_thread *info;
  char name[CTRACE_FMT_NAME_MAX + 1]; /* last THREAD_NAME, else the def's name */
  tev *ev;
  size_t n, cap;
} tthread;

typedef struct ttrace {
  rd_trace *tr;
  tthread *th;
  size_t nth;
  tev *merged;
  size_t nmerged;
  int stream_errors;
} ttrace;

/* Opens path (asserting success) and reads every event, per thread and
 * merged. */
ttrace *tt_load(const char *path);
/* Same over memory; returns NULL (and the reader's error) if rd_open fails. */
ttrace *tt_load_mem(const void *data, size_t len, int *err, char *msg, size_t msglen);
void tt_free(ttrace *t);
tthread *tt_thread(ttrace *t, const char *name); /* by name; NULL if none */
const char *tt_site_name(ttrace *t, uint64_t id);
size_t tt_count(const tthread *th, unsigned type);

/* `ctrace export` of one open trace to fd (the exporter over a set of it).
 * @return cj_export's result. */
struct cj_stats;
int tt_export(rd_trace *tr, int fd, struct cj_stats *stats, char *err, size_t errlen);

/* Parses a JSON file with cJSON (asserting it parses). */
cJSON *tt_json_file(const char *path);
/* traceEvents entries with this "ph" (and "name", if not NULL) and tid (if
 * tid >= 0). */
size_t tt_json_count(cJSON *root, const char *ph, const char *name, int64_t tid);
/* Checks that B/E nest per thread with equal names, every s has an f and
 * vice versa, every b has a matching e (same cat, id, name); returns the
 * number of problems (printed). */
int tt_json_check_structure(cJSON *root);

#endif
