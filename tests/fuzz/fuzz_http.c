/* libFuzzer target for the viewer's request path: any bytes on a connection
 * go through http-parser, the request checks and the routes (against the
 * index of a real trace), and get answers, never a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "server.h"

#ifndef FUZZ_TRACE
#define FUZZ_TRACE "tests/data/good.ctrace"
#endif

static rt_context ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ctx.index) {
    static char *paths[] = {FUZZ_TRACE};
    char err[1024];
    ctx.index = vx_build(paths, 1, err, sizeof err);
    if (!ctx.index) {
      fprintf(stderr, "fuzz_http: %s\n", err);
      abort();
    }
    ctx.paths = paths;
    ctx.npaths = 1;
    ctx.web_root = NULL; /* static files: the 404 path */
  }
  http_feed_for_test(&ctx, (const char *)data, size);
  return 0;
}
