/* libFuzzer target for the trace reader and the JSON exporter: any bytes
 * must give a clean error or a readable prefix, never a crash, a leak or
 * undefined behaviour. Inputs are read twice: with CRC checks (the real
 * path) and without (so mutations reach the decoders behind the CRC). */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "export.h"
#include "read.h"

static int devnull = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (devnull < 0)
    devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  for (unsigned flags = 0; flags <= RD_OPEN_NO_CRC; flags += RD_OPEN_NO_CRC) {
    rd_trace *tr;
    char err[600];
    if (rd_open_mem(data, size, flags, &tr, err, sizeof err) != 0)
      continue;
    te_set *set = te_set_of_trace(tr, "fuzz.ctrace");
    cj_stats st;
    if (set)
      cj_export(set, cj_fd_sink, &devnull, &st, err, sizeof err);
    te_set_close(set);
    rd_close(tr);
  }
  return 0;
}
