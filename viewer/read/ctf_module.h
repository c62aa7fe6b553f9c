/* This file is private to the reader (viewer/read): what the tools
 * (ctf_load.c) and libctrace-ctf.so (ctf_events.c, the LTTng reader on
 * libbabeltrace2) hand each other when the module is loaded.
 *
 * The module is found and loaded by ctf_load.c on the first LTTng trace
 * read, then calls CTF_MODULE_ENTRY once. It uses nothing of the
 * executable's but what ctf_host gives it: the executable exports no
 * symbols (no -rdynamic). Of ours it links only ctrace_common (static,
 * hidden: its own copy of the hash map). */
#ifndef CTRACE_VIEWER_CTF_MODULE_H
#define CTRACE_VIEWER_CTF_MODULE_H

#include <stdint.h>

#include "ctrace/ctrace.h"
#include "read_internal.h"

#define CTF_MODULE_FILE "libctrace-ctf.so"
#define CTF_MODULE_ENTRY "ctrace_ctf_module_open"

/* The release, and the revision of this interface in its low byte (bump it
 * when ctf_host or ctf_read_fn changes): a libctrace-ctf.so of another
 * build must not be used, whatever its name. */
#define CTF_MODULE_ABI                                                           \
  ((uint32_t)CTRACE_VERSION_MAJOR << 24 | (uint32_t)CTRACE_VERSION_MINOR << 16 | \
   (uint32_t)CTRACE_VERSION_PATCH << 8 | 1u)

/* What the executable gives the module. The sizes catch a module built
 * with other headers under the same release (a changed te_event). */
typedef struct ctf_host {
  uint32_t abi;                         /* CTF_MODULE_ABI */
  uint32_t event_size;                  /* sizeof(te_event) */
  uint32_t source_size;                 /* sizeof(te_source) */
  uint32_t stats_size;                  /* sizeof(ctf_stats) */
  long (*syscall_nr)(const char *name); /* te_syscall_nr (set.c) */
  const char *(*error_text)(int err);   /* ctrace_strerror (tracer/common) */
} ctf_host;

/* The module's reader: te__ctf_read's contract (read_internal.h). */
typedef int (*ctf_read_fn)(const char *dir, te_source *src, ctf_stats *stats, te_handler fn,
                           void *arg, char *err, size_t errlen);

/* The module's one exported function (CTF_MODULE_ENTRY). host must stay
 * valid while the module is used (the executable's static one). @return the
 * reader, or NULL when host is not of the module's build (abi or sizes). */
typedef ctf_read_fn (*ctf_module_open_fn)(const ctf_host *host);
ctf_read_fn ctrace_ctf_module_open(const ctf_host *host); /* (ctf_events.c) */

#endif /* CTRACE_VIEWER_CTF_MODULE_H */
