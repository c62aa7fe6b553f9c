/* What the commands share in handling their arguments (cli.h). */
#include <stdio.h>

#include "cli.h"
#include "read.h"

char **cli_with_kernel(const char *cmd, char **paths, size_t n, size_t *nout, int **added) {
  char **all = te_paths_with_kernel(paths, n, nout, added);
  for (size_t i = 0; all && i < *nout; i++)
    if ((*added)[i])
      fprintf(stderr, "ctrace %s: with %s (the kernel's events of the same run)\n", cmd, all[i]);
  return all;
}
