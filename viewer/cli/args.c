/* What the commands share in handling their arguments (cli.h). */
#include <stdio.h>

#include "analysis.h"
#include "cli.h"
#include "read.h"

char **cli_with_kernel(const char *cmd, char **paths, size_t n, size_t *nout, int **added) {
  char **all = te_paths_with_kernel(paths, n, nout, added);
  for (size_t i = 0; all && i < *nout; i++)
    if ((*added)[i])
      fprintf(stderr, "ctrace %s: with %s (the kernel's events of the same run)\n", cmd, all[i]);
  return all;
}

vx_index *cli_index(const char *cmd, char **traces, size_t n) {
  size_t np;
  int *added;
  char **paths = cli_with_kernel(cmd, traces, n, &np, &added);
  if (!paths) {
    fprintf(stderr, "ctrace %s: out of memory\n", cmd);
    return NULL;
  }
  char err[1200] = "";
  vx_index *x = vx_build(paths, np, err, sizeof err);
  if (!x)
    fprintf(stderr, "ctrace %s: %s\n", cmd, err[0] ? err : "indexing failed");
  te_paths_free(paths, np, added);
  return x;
}
