/* write(2) all of a buffer (common.h). */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "common.h"

int ctrace__write_all(int fd, const void *buf, size_t n) {
  const uint8_t *p = buf;
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}
