/* Error strings and the version: shared by the runtime (libctrace) and the
 * tools (the viewer library), which must not load the runtime: a `ctrace
 * export` run with CTRACE_OUT in its environment would start tracing itself
 * into the very file it reads. */
#define _GNU_SOURCE
#include <string.h>

#include "common.h"

const char *ctrace_strerror(int err) {
  switch (err) {
  case 0: return "success";
#define XX(name, value, text) \
  case CTRACE_##name: return text;
    CTRACE_ERRNO_MAP(XX)
#undef XX
  default: return err < 0 && err > -4000 ? strerror(-err) : "unknown error";
  }
}

const char *ctrace_err_name(int err) {
  switch (err) {
  case 0: return "OK";
#define XX(name, value, text) \
  case CTRACE_##name: return "CTRACE_" #name;
    CTRACE_ERRNO_MAP(XX)
#undef XX
  default:
    return err < 0 && err > -4000 ? strerrorname_np(-err) ? strerrorname_np(-err) : "E?"
                                  : "CTRACE_E?";
  }
}

const char *ctrace_version(void) {
#define S2(x) #x
#define S(x) S2(x)
  return S(CTRACE_VERSION_MAJOR) "." S(CTRACE_VERSION_MINOR) "." S(CTRACE_VERSION_PATCH);
#undef S
#undef S2
}
