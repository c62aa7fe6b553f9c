/* What /proc says of a process, for the samples' files: its executable
 * file mappings (what unwinds and names the samples) and its command line
 * (FILE.kernel's DEF_PROCESS). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "unwind.h"

int ctrace__proc_maps(int pid, void (*fn)(void *arg, const ctrace__uw_mapping *m), void *arg) {
  char path[64];
  if (pid)
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
  else
    snprintf(path, sizeof path, "/proc/self/maps");
  FILE *f = fopen(path, "re");
  if (!f)
    return -errno;
  char *line = NULL;
  size_t cap = 0;
  int n = 0;
  while (getline(&line, &cap, f) > 0) {
    unsigned long long start, end, off;
    char perms[8];
    int pos = -1;
    if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %*u %n", &start, &end, perms, &off, &pos) < 4 ||
        pos < 0 || strlen(perms) < 3 || perms[2] != 'x')
      continue;
    char *name = line + pos;
    name[strcspn(name, "\n")] = '\0';
    if (!name[0]) /* anonymous code (a JIT): nothing to unwind it with */
      continue;
    ctrace__uw_mapping m = {start, end, off, name, ""};
    fn(arg, &m);
    n++;
  }
  free(line);
  fclose(f);
  return n;
}

void ctrace__proc_cmdline(int pid, char *out, size_t len) {
  char path[64];
  if (pid)
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
  else
    snprintf(path, sizeof path, "/proc/self/cmdline");
  out[0] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  ssize_t n = read(fd, out, len - 1);
  close(fd);
  if (n <= 0)
    return;
  out[n] = '\0';
  while (n > 0 && out[n - 1] == '\0')
    n--;
  for (ssize_t i = 0; i < n; i++)
    if (out[i] == '\0')
      out[i] = ' ';
}
