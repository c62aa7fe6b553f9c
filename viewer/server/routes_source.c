/* The source view's route (docs/viewer-api.md): /api/source?fn=NAME, a
 * sampled function's source lines with their samples, flat and cum per
 * line (viewer/analysis: cp_list, `ctrace list`'s numbers), read from the
 * file the debug information names; with asm=1 also its instructions with
 * their samples and source lines (cp_disasm, `ctrace list --asm`). The
 * samples are those /api/cpu would count for the same t0, t1, thread or
 * tid, and region. A source file that is not on this machine is said so,
 * and the lines with samples are still listed, by number. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "analysis.h"
#include "server_internal.h"

#define SRC_AFTER 3          /* lines shown after the last sampled one (the closing brace) */
#define SRC_MAX_LINES 5000   /* of a function's source at most */
#define SRC_MAX_TEXT 400     /* characters of a line at most */
#define ASM_MAX_INSNS 20000u /* instructions in an answer at most */

/* ---- The function ---------------------------------------------------------------------- */

/* "^NAME$" with the extended regular expression's special characters
 * escaped, for cp_list. @return 0, or -1 when it does not fit. */
static int exact_pattern(const char *name, char *out, size_t cap) {
  size_t n = 0;
  out[n++] = '^';
  for (const char *c = name; *c; c++) {
    if (n + 4 >= cap)
      return -1;
    if (strchr(".[]()*+?{}|^$\\", *c))
      out[n++] = '\\';
    out[n++] = *c;
  }
  out[n++] = '$';
  out[n] = '\0';
  return 0;
}

/* Of the functions named so (static ones of several files), the one in
 * file (NULL: any), most samples first. NULL when none. */
static const cp_list_fn *pick(const cp_list_fn *f, size_t n, const char *file) {
  const cp_list_fn *best = NULL;
  for (size_t i = 0; i < n; i++)
    if ((!file || (f[i].file && !strcmp(f[i].file, file))) && (!best || f[i].cum > best->cum))
      best = &f[i];
  return best;
}

/* ---- The source ------------------------------------------------------------------------ */

/* The source file, if it is a regular file here; else NULL with why. */
static FILE *open_source(const char *path, char *why, size_t cap) {
  if (path[0] != '/') { /* (not from the viewer's own directory) */
    snprintf(why, cap, "%s: a relative path (the debug information does not say from where)", path);
    return NULL;
  }
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct stat st;
  if (fd < 0) {
    snprintf(why, cap, "%s: %s", path, strerror(errno));
    return NULL;
  }
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    snprintf(why, cap, "%s: not a regular file", path);
    close(fd);
    return NULL;
  }
  FILE *f = fdopen(fd, "r");
  if (!f) {
    snprintf(why, cap, "%s: %s", path, strerror(errno));
    close(fd);
  }
  return f;
}

static cJSON *line_json(const cp_list_fn *f, int l, const char *text) {
  cJSON *o = cJSON_CreateObject();
  uint64_t flat = (size_t)l < f->nlines ? f->line_flat[l] : 0;
  uint64_t cum = (size_t)l < f->nlines ? f->line_cum[l] : 0;
  cJSON_AddNumberToObject(o, "line", l);
  if (text)
    cJSON_AddStringToObject(o, "text", text);
  cJSON_AddNumberToObject(o, "flat", (double)flat);
  cJSON_AddNumberToObject(o, "cum", (double)cum);
  return o;
}

/* The function's lines into o: from its first line to a few after its last
 * sampled one, with their text when the file is here ("source_missing"
 * says why not: then only the lines with samples). */
static void lines_json(cJSON *o, const cp_list_fn *f) {
  cJSON *arr = cJSON_AddArrayToObject(o, "lines");
  int from = f->first_line > 1 ? f->first_line : 1, to = f->last_line + SRC_AFTER;
  if (to - from > SRC_MAX_LINES)
    to = from + SRC_MAX_LINES;
  char why[PATH_MAX + 100];
  FILE *src = open_source(f->file, why, sizeof why);
  if (!src) {
    cJSON_AddStringToObject(o, "source_missing", why);
    for (int l = from; l <= f->last_line; l++)
      if ((size_t)l < f->nlines && (f->line_flat[l] || f->line_cum[l]))
        cJSON_AddItemToArray(arr, line_json(f, l, NULL));
    return;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  for (int no = 1; no <= to && (len = getline(&line, &cap, src)) >= 0; no++) {
    if (no < from)
      continue;
    line[strcspn(line, "\r\n")] = '\0';
    if (strlen(line) > SRC_MAX_TEXT)
      line[SRC_MAX_TEXT] = '\0';
    cJSON_AddItemToArray(arr, line_json(f, no, line));
  }
  free(line);
  fclose(src);
}

/* ---- The instructions ------------------------------------------------------------------ */

/* "asm": the instructions of f (or of the function it was inlined into),
 * or "asm_error" saying why there are none. */
static void asm_json(cJSON *o, cp_profile *p, const cp_list_fn *f) {
  char err[600], addr[24];
  cp_insn *ins;
  const char *in_fn = NULL;
  size_t n = cp_disasm(p, f->name, &in_fn, &ins, err, sizeof err);
  if (n == (size_t)-1) {
    cJSON_AddStringToObject(o, "asm_error", err);
    return;
  }
  cJSON *a = cJSON_AddObjectToObject(o, "asm");
  cJSON_AddStringToObject(a, "container", in_fn);
  cJSON_AddNumberToObject(a, "count", (double)n);
  if (n > ASM_MAX_INSNS)
    cJSON_AddBoolToObject(a, "truncated", 1);
  cJSON *arr = cJSON_AddArrayToObject(a, "instructions");
  for (size_t i = 0; i < n && i < ASM_MAX_INSNS; i++) {
    cJSON *x = cJSON_CreateObject();
    snprintf(addr, sizeof addr, "0x%" PRIx64, ins[i].addr);
    cJSON_AddStringToObject(x, "addr", addr);
    cJSON_AddStringToObject(x, "text", ins[i].text);
    if (ins[i].function)
      cJSON_AddStringToObject(x, "function", ins[i].function);
    if (ins[i].file)
      cJSON_AddStringToObject(x, "file", ins[i].file);
    if (ins[i].line > 0)
      cJSON_AddNumberToObject(x, "line", ins[i].line);
    cJSON_AddNumberToObject(x, "flat", (double)ins[i].flat);
    cJSON_AddNumberToObject(x, "cum", (double)ins[i].cum);
    cJSON_AddItemToArray(arr, x);
  }
  free(ins);
}

/* ---- /api/source ------------------------------------------------------------------------- */

/* The answer for function f of the profile (the others of its name in
 * fns[0..n)). */
static cJSON *source_json(cp_profile *p, const cp_list_fn *f, const cp_list_fn *fns, size_t n,
                          int with_asm) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "function", f->name);
  cJSON_AddStringToObject(o, "file", f->file);
  cJSON_AddNumberToObject(o, "hz", p->info.hz);
  cJSON_AddNumberToObject(o, "period_ns", (double)p->info.period_ns);
  cJSON_AddNumberToObject(o, "samples", (double)p->samples);
  cJSON_AddNumberToObject(o, "flat", (double)f->flat);
  cJSON_AddNumberToObject(o, "cum", (double)f->cum);
  cJSON_AddNumberToObject(o, "first_line", f->first_line);
  cJSON_AddNumberToObject(o, "last_line", f->last_line);
  cJSON *others = cJSON_AddArrayToObject(o, "others");
  for (size_t i = 0; i < n; i++) {
    if (&fns[i] == f)
      continue;
    cJSON *x = cJSON_CreateObject();
    if (fns[i].file)
      cJSON_AddStringToObject(x, "file", fns[i].file);
    cJSON_AddNumberToObject(x, "cum", (double)fns[i].cum);
    cJSON_AddItemToArray(others, x);
  }
  lines_json(o, f);
  if (with_asm)
    asm_json(o, p, f);
  return o;
}

/* fn, file and asm of the query into fn[512], file[PATH_MAX]. @return 0,
 * or -1 with r answered (400 naming the parameter). */
static int source_query(const char *q, char *fn, char *file, int *has_file, uint64_t *with_asm,
                        rt_response *r) {
  int has_fn = rt__query_get(q, "fn", fn, 512);
  if (has_fn <= 0 || !fn[0]) {
    rt__respond_error(r, 400,
                      has_fn < 0 ? "fn: malformed or too long"
                                 : "fn: the function's name is required (fn=NAME, as /api/cpu "
                                   "names it)");
    return -1;
  }
  if ((*has_file = rt__query_get(q, "file", file, PATH_MAX)) < 0) {
    rt__respond_error(r, 400, "file: malformed or too long");
    return -1;
  }
  if (rt__query_u64(q, "asm", 0, with_asm) || *with_asm > 1) {
    rt__respond_error(r, 400, "asm must be 0 or 1");
    return -1;
  }
  return 0;
}

void rt__api_source(const rt_context *ctx, const char *q, rt_response *r) {
  char fn[512], file[PATH_MAX], pattern[1100], err[400], msg[PATH_MAX + 1600];
  int has_file;
  uint64_t with_asm;
  if (source_query(q, fn, file, &has_file, &with_asm, r))
    return;
  if (exact_pattern(fn, pattern, sizeof pattern)) {
    rt__respond_error(r, 400, "fn: too long");
    return;
  }
  cp_profile p;
  if (rt__cpu_profile(ctx, q, &p, r))
    return;
  cp_list_fn *fns = NULL;
  size_t n = cp_list(&p, pattern, &fns, err, sizeof err);
  const cp_list_fn *f = n == (size_t)-1 ? NULL : pick(fns, n, has_file > 0 ? file : NULL);
  if (n == (size_t)-1) {
    rt__respond_error(r, 500, err);
  } else if (!f && n && has_file > 0) {
    snprintf(msg, sizeof msg, "'%s' was sampled, but not in %s", fn, file);
    rt__respond_error(r, 404, msg);
  } else if (!f) {
    snprintf(msg, sizeof msg,
             "no CPU sample in '%s' in this window (and thread, region): not sampled, or not a "
             "function the debug information or the symbols name",
             fn);
    rt__respond_error(r, 404, msg);
  } else if (!f->file || !f->last_line) {
    snprintf(msg, sizeof msg,
             "'%s': no source lines: its binary has no line information (built without -g, or "
             "its debug file is not here)%s%.900s",
             fn, p.problems && *p.problems ? "; " : "", p.problems ? p.problems : "");
    rt__respond_error(r, 404, msg);
  } else {
    cJSON *o = source_json(&p, f, fns, n, (int)with_asm);
    if (o)
      rt__respond_json(r, 200, o);
    else
      rt__respond_error(r, 500, "out of memory");
  }
  cp_list_free(fns, n == (size_t)-1 ? 0 : n);
  cp_free(&p);
}
