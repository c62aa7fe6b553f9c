/* What the commands share in handling their arguments (cli.h). */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <stdlib.h>

#include "analysis.h"
#include "cli.h"
#include "ctrace/format.h"
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
  for (size_t i = 0; x && i < vx_source_count(x); i++) { /* (a truncated trace: what was read) */
    const vx_source *src = vx_source_get(x, i);
    if (src->problem)
      fprintf(stderr, "ctrace %s: %s: warning: %s\n", cmd, src->path, src->problem);
  }
  te_paths_free(paths, np, added);
  return x;
}

/* paths is FILE and the FILE.kernel beside it. */
static int with_kernel(char *const *paths, size_t n) {
  size_t l = strlen(paths[0]);
  return n == 2 && strlen(paths[1]) == l + 7 && !strncmp(paths[1], paths[0], l) &&
         !strcmp(paths[1] + l, ".kernel");
}

int cli_scale(const char *cmd, const char *how, char *const *paths, size_t n) {
  if (!how)
    how = "auto";
  if (!strcmp(how, "full"))
    return 0;
  struct stat st;
  int kernel = with_kernel(paths, n);
  int one = (n == 1 || kernel) && stat(paths[0], &st) == 0 && S_ISREG(st.st_mode);
  char magic[CTRACE_FMT_MAGIC_LEN] = ""; /* (a ctrace file, not JSON or CTF) */
  FILE *f = one ? fopen(paths[0], "rb") : NULL;
  int ctrace = f && fread(magic, 1, sizeof magic, f) == sizeof magic &&
               !memcmp(magic, CTRACE_FMT_MAGIC, CTRACE_FMT_MAGIC_LEN);
  if (f)
    fclose(f);
  int scale;
  if (!strcmp(how, "scale")) {
    if (n >= 1 && stat(paths[0], &st) != 0) {
      fprintf(stderr, "ctrace %s: %s: %s\n", cmd, paths[0], strerror(errno));
      return -1;
    }
    if (!one || !ctrace) {
      fprintf(stderr, "ctrace %s: --index scale takes one ctrace file alone (%s)\n", cmd,
              !one ? "no other trace beside it" : "this one is not a ctrace file");
      return -1;
    }
    scale = 1;
  } else {
    const char *mib = getenv("CTRACE_SCALE_MIB");
    double min = mib && *mib ? atof(mib) : 32.0;
    scale = one && ctrace && (double)st.st_size >= min * 1048576.0;
    double total = 0;
    for (size_t i = 0; !one && i < n; i++)
      total += stat(paths[i], &st) == 0 && S_ISREG(st.st_mode) ? (double)st.st_size : 0;
    if (!one && total >= min * 1048576.0) /* (several processes' files, say) */
      fprintf(stderr,
              "ctrace %s: %zu traces of %.0f MiB are indexed whole, in memory (12 to 19 bytes "
              "an event): the scale index reads one ctrace file (and its FILE.kernel); give "
              "one to read it so\n",
              cmd, n, total / 1048576.0);
  }
  if (scale && kernel && !strcmp(cmd, "view")) /* (a big `ctrace run` trace) */
    fprintf(stderr,
            "ctrace view: %s: only the threads' states are read from it through the scale "
            "index (not the kernel's system calls; --index full reads them, in memory)\n",
            paths[1]);
  else if (scale && kernel)
    fprintf(stderr,
            "ctrace %s: %s: not read through the scale index (the threads' states and the "
            "kernel's system calls are left out; --index full reads them, in memory)\n",
            cmd, paths[1]);
  return scale;
}
