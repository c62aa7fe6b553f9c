/* `ctrace diff` (analysis.h): two indexes' regions, tasks, waits and
 * system calls matched by kind and name, their durations kept per side
 * (quantile.h: exact up to QT_EXACT_MAX, a sketch beyond) for the
 * percentiles and a Mann-Whitney U test, their counts for a Poisson test;
 * the functions of the CPU samples (cp_top) by their samples; and the
 * report as a table or as JSON. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common.h"
#include "analysis.h"
#include "quantile.h"

/* ---- The tests ------------------------------------------------------------------------- */

/* ln C(n, k). */
static double lchoose(double n, double k) {
  return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1);
}

double df_min_p(uint64_t m, uint64_t n) {
  if (!m || !n)
    return 1;
  double p = 2 * exp(-lchoose((double)(m + n), (double)m));
  return p < 1 ? p : 1;
}

/* The exact distribution of U (pairs with b_j > a_i) for m a's against n
 * b's, no ties: c(m, n, u) = c(m, n - 1, u - m) + c(m - 1, n, u), by
 * whether the largest of all is a b (above all m a's) or an a. Fills
 * p[0..m*n] with the probabilities. @return 0, or -1 when out of memory. */
static int exact_u(unsigned m, unsigned n, double *p) {
  size_t nu = (size_t)m * n + 1;
  double *prev = calloc((n + 1) * nu, sizeof *prev), *cur = calloc((n + 1) * nu, sizeof *cur);
  if (!prev || !cur) {
    free(prev);
    free(cur);
    return -1;
  }
  for (unsigned j = 0; j <= n; j++) /* i = 0 a's: one arrangement, U 0 */
    prev[j * nu] = 1;
  for (unsigned i = 1; i <= m; i++) {
    memset(cur, 0, (n + 1) * nu * sizeof *cur);
    for (unsigned j = 0; j <= n; j++)
      for (size_t u = 0; u <= (size_t)i * j; u++)
        cur[j * nu + u] = prev[j * nu + u] + (j && u >= i ? cur[(j - 1) * nu + u - i] : 0);
    double *t = prev;
    prev = cur;
    cur = t;
  }
  double total = 0;
  for (size_t u = 0; u < nu; u++)
    total += prev[n * nu + u];
  for (size_t u = 0; u < nu; u++)
    p[u] = prev[n * nu + u] / total;
  free(prev);
  free(cur);
  return 0;
}

/* Ranks both samples together: the sum of b's ranks, the tie term
 * sum(t^3 - t), and whether any value occurs more than once. */
static double rank_sum_b(const qt_run *a, size_t na, const qt_run *b, size_t nb, double *ties,
                         int *any_tie) {
  double seen = 0, rb = 0;
  size_t i = 0, j = 0;
  *ties = 0;
  *any_tie = 0;
  while (i < na || j < nb) {
    uint64_t v = j >= nb || (i < na && a[i].value <= b[j].value) ? a[i].value : b[j].value;
    double ca = i < na && a[i].value == v ? (double)a[i++].count : 0;
    double cb = j < nb && b[j].value == v ? (double)b[j++].count : 0;
    double t = ca + cb;
    rb += cb * (seen + (t + 1) / 2);
    seen += t;
    *ties += t * t * t - t;
    *any_tie |= t > 1;
  }
  return rb;
}

double df_mann_whitney(const qt_run *a, size_t na, const qt_run *b, size_t nb, int *exact,
                       double *u) {
  double m = 0, n = 0, ties;
  int any_tie;
  for (size_t i = 0; i < na; i++)
    m += (double)a[i].count;
  for (size_t j = 0; j < nb; j++)
    n += (double)b[j].count;
  if (exact)
    *exact = 0;
  if (u)
    *u = 0;
  if (!m || !n)
    return 1;
  double ub = rank_sum_b(a, na, b, nb, &ties, &any_tie) - n * (n + 1) / 2;
  if (u)
    *u = ub;
  if (!any_tie && m <= DF_EXACT_MAX && n <= DF_EXACT_MAX) {
    double p[DF_EXACT_MAX * DF_EXACT_MAX + 1], lo = 0, hi = 0;
    if (!exact_u((unsigned)m, (unsigned)n, p)) {
      for (size_t k = 0; k <= (size_t)(m * n); k++) {
        lo += (double)k <= ub ? p[k] : 0;
        hi += (double)k >= ub ? p[k] : 0;
      }
      if (exact)
        *exact = 1;
      double two = 2 * (lo < hi ? lo : hi);
      return two < 1 ? two : 1;
    }
  }
  double N = m + n, var = m * n / 12 * ((N + 1) - ties / (N * (N - 1)));
  if (var <= 0)
    return 1; /* every value the same */
  double dev = fabs(ub - m * n / 2) - 0.5;
  return dev <= 0 ? 1 : erfc(dev / sqrt(var) / M_SQRT2);
}

double df_poisson(uint64_t a, uint64_t b) {
  uint64_t n = a + b, k = a < b ? a : b;
  if (a == b)
    return 1;
  /* 2 P(X <= k), X ~ Binomial(n, 1/2), summed in logs from the largest term down */
  double top = lchoose((double)n, (double)k) - (double)n * M_LN2, sum = 0;
  for (uint64_t i = k + 1; i-- > 0;) {
    double t = exp(lchoose((double)n, (double)i) - (double)n * M_LN2 - top);
    sum += t;
    if (t < 1e-17 * sum)
      break;
  }
  double p = 2 * exp(top) * sum;
  return p < 1 ? p : 1;
}

double df_exceed(uint64_t n, uint64_t k, uint64_t m, uint64_t x) {
  if (!x)
    return 1;
  if (x > m || !k || k > n)
    return 0;
  /* P(X = j) = C(j + n - k, j) C(m - j + k - 1, m - j) / C(n + m, m) */
  double all = lchoose((double)(n + m), (double)m), p = 0;
  for (uint64_t j = x; j <= m; j++)
    p += exp(lchoose((double)(j + n - k), (double)j) +
             lchoose((double)(m - j + k - 1), (double)(m - j)) - all);
  return p < 1 ? p : 1;
}

/* ---- Rows by kind and name --------------------------------------------------------------- */

/* What df_compute builds: the rows, and per row each side's durations. */
typedef struct builder {
  df_row *rows;
  size_t n, cap;
  qt_dist (*durs)[2];
  size_t dcap;
  vh_map map;         /* hash(kind, name) -> row + 1 */
  uint64_t period[2]; /* ns per CPU sample of each side (0: no samples) */
} builder;

/* The row of (kind, name), made if new. @return its index, or -1 when out
 * of memory. */
static long row_of(builder *b, df_kind kind, const char *name) {
  uint64_t k = ctrace__fnv1a(name, strlen(name), (uint64_t)kind + 1);
  uint32_t *v;
  for (; (v = vh_get(&b->map, k)); k = ctrace__mix64(k, 1))
    if (b->rows[*v - 1].kind == kind && !strcmp(b->rows[*v - 1].name, name))
      return (long)*v - 1;
  if (vh_reserve((void **)&b->rows, &b->cap, b->n + 1, sizeof *b->rows) ||
      vh_reserve((void **)&b->durs, &b->dcap, b->n + 1, sizeof *b->durs))
    return -1;
  char *copy = strdup(name);
  if (!copy || vh_put(&b->map, k, (uint32_t)b->n + 1)) {
    free(copy);
    return -1;
  }
  b->rows[b->n] = (df_row){.name = copy, .kind = kind};
  memset(b->durs[b->n], 0, sizeof b->durs[b->n]);
  return (long)b->n++;
}

static int add(builder *b, long row, int side, uint64_t dur) {
  df_side *s = side ? &b->rows[row].next : &b->rows[row].base;
  s->count++;
  s->total += dur;
  return qt_dist_add(&b->durs[row][side], dur);
}

static const df_kind kind_of_st[] = {
    [ST_KIND_REGION] = DF_REGION, [ST_KIND_SYSCALL] = DF_SYSCALL, [ST_KIND_WAIT] = DF_WAIT};

/* Every slice of x's threads, and its tasks that ended, into side.
 * @return 0, or -1 when out of memory. */
static int collect(builder *b, const vx_index *x, int side) {
  size_t nl = vx_label_count(x);
  long *row = malloc((nl ? nl : 1) * sizeof *row);
  if (!row)
    return -1;
  for (size_t l = 0; l < nl; l++)
    row[l] = -2; /* not looked up yet */
  int ok = 1;
  for (size_t i = 0; ok && i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    for (size_t d = 0; ok && t->kind == VX_THREAD && d < t->depths; d++)
      for (size_t j = 0; ok && j < t->ndepth[d]; j++) {
        const vx_slice *s = &t->depth[d][j];
        if (row[s->label] == -2) {
          const vx_label *l = vx_label_get(x, s->label);
          row[s->label] = row_of(b, kind_of_st[st_label_kind(l)], l->name);
        }
        ok = row[s->label] >= 0 && !add(b, row[s->label], side, s->dur);
      }
    for (size_t j = 0; ok && t->kind == VX_TASKS && j < t->ntasks; j++) {
      const vx_task *k = &t->tasks[j];
      if (k->end == UINT64_MAX)
        continue;
      long r = row_of(b, DF_TASK, vx_label_get(x, k->label)->name);
      ok = r >= 0 && !add(b, r, side, k->end - k->start);
    }
  }
  free(row);
  return ok ? 0 : -1;
}

/* The CPU samples of x (none: nothing) by function, where it is anywhere
 * on the stack (cp_top's cum), into side: count = samples, total = their
 * CPU time; *period the ns a sample stands for. @return 0, or -1 with a
 * message (out of memory, or the samples could not be profiled). */
static int collect_functions(builder *b, const vx_index *x, int side, uint64_t *period, char *err,
                             size_t errlen) {
  if (!vx_cpu(x).hz)
    return 0;
  cp_options o = {0};
  cp_profile p;
  if (cp_compute(x, &o, &p, err, errlen))
    return -1;
  *period = p.info.period_ns;
  cp_top_row *rows;
  size_t n = cp_top(&p, 0, 1, &rows);
  int ok = n != (size_t)-1;
  for (size_t i = 0; ok && i < n; i++) {
    char name[256];
    if (rows[i].name)
      snprintf(name, sizeof name, "%s", rows[i].name);
    else
      cp_location_name(&p, rows[i].loc, name, sizeof name);
    long r = row_of(b, DF_FUNCTION, name);
    ok = r >= 0;
    if (ok) {
      df_side *d = side ? &b->rows[r].next : &b->rows[r].base;
      d->count += rows[i].cum;
      d->total += rows[i].cum * *period;
    }
  }
  if (n != (size_t)-1)
    free(rows);
  if (!ok)
    vx_errf(err, errlen, "out of memory while comparing the CPU samples");
  cp_free(&p);
  return ok ? 0 : -1;
}

/* ---- Verdicts ---------------------------------------------------------------------------- */

static uint64_t metric_of(const df_side *s, df_metric m) {
  switch (m) {
  case DF_P99: return s->p99;
  case DF_TOTAL: return s->total;
  case DF_COUNT: return s->count;
  default: return s->p50;
  }
}

/* The durations' U test of row i. *up: the new ones are the larger.
 * @return p, or NAN (too few instances; out of memory: *oom). */
static double durations_test(builder *b, size_t i, double alpha, int *up, int *oom) {
  df_row *r = &b->rows[i];
  qt_dist *d = b->durs[i];
  if (df_min_p(r->base.count, r->next.count) >= alpha) {
    r->too_few = 1;
    return NAN;
  }
  int bucketed = qt_dist_estimated(&d[0]) || qt_dist_estimated(&d[1]);
  qt_run *ra, *rb;
  size_t na = qt_dist_runs(&d[0], bucketed, &ra), nb = qt_dist_runs(&d[1], bucketed, &rb);
  double u = 0, p = NAN;
  if (na != (size_t)-1 && nb != (size_t)-1)
    p = df_mann_whitney(ra, na, rb, nb, NULL, &u);
  else
    *oom = 1;
  free(ra);
  free(rb);
  *up = u > (double)r->base.count * (double)r->next.count / 2;
  return p;
}

/* How many of d's values are above v (values as df_mann_whitney ranks
 * them: bucketed when estimated). */
static uint64_t count_above(qt_dist *d, uint64_t v, int *oom) {
  qt_run *runs;
  size_t n = qt_dist_runs(d, qt_dist_estimated(d), &runs);
  uint64_t above = 0;
  if (n == (size_t)-1)
    *oom = 1;
  for (size_t i = 0; i < n && n != (size_t)-1; i++)
    above += runs[i].value > v ? runs[i].count : 0;
  free(runs);
  return above;
}

/* p99's tail test of row i: how many instances of the side whose p99 is
 * the larger lie above the other side's p99 (df_exceed). */
static double tail_test(builder *b, size_t i, int *oom) {
  const df_row *r = &b->rows[i];
  int ref = r->next.p99 >= r->base.p99 ? 0 : 1; /* the side whose p99 is the cut */
  const df_side *c = ref ? &r->next : &r->base, *o = ref ? &r->base : &r->next;
  uint64_t x = count_above(&b->durs[i][!ref], c->p99, oom);
  return df_exceed(c->count, qt_rank((size_t)c->count, 99), o->count, x);
}

/* Row i's percentiles, p, and verdict. @return 0, or -1 when out of memory. */
static int judge(builder *b, size_t i, const df_options *o) {
  df_row *r = &b->rows[i];
  qt_dist *d = b->durs[i];
  r->base.p50 = qt_dist_percentile(&d[0], 50);
  r->base.p99 = qt_dist_percentile(&d[0], 99);
  r->next.p50 = qt_dist_percentile(&d[1], 50);
  r->next.p99 = qt_dist_percentile(&d[1], 99);
  r->base.estimated = qt_dist_estimated(&d[0]);
  r->next.estimated = qt_dist_estimated(&d[1]);
  r->presence = !r->base.count ? DF_ADDED : !r->next.count ? DF_REMOVED : DF_BOTH;
  uint64_t mb = metric_of(&r->base, o->metric), mn = metric_of(&r->next, o->metric);
  r->delta_pct = mb ? ((double)mn - (double)mb) / (double)mb * 100 : NAN;
  r->p_value = NAN;
  if (r->presence != DF_BOTH)
    return 0;
  int up = 0, oom = 0;
  if (r->kind == DF_FUNCTION) { /* samples: no durations, only counts */
    if (o->metric == DF_COUNT || o->metric == DF_TOTAL)
      r->p_value = b->period[0] == b->period[1] ? df_poisson(r->base.count, r->next.count) : NAN;
    up = r->next.count > r->base.count;
  } else if (o->metric == DF_COUNT) {
    r->p_value = df_poisson(r->base.count, r->next.count);
    up = r->next.count > r->base.count;
  } else {
    double pd = durations_test(b, i, o->alpha, &up, &oom);
    r->p_value = pd;
    if (o->metric == DF_P99 && !isnan(pd)) {
      double pt = tail_test(b, i, &oom);
      r->p_value = pt > pd ? pt : pd;
    }
    if (o->metric == DF_TOTAL) {
      double pc = df_poisson(r->base.count, r->next.count);
      int cup = r->next.count > r->base.count;
      r->too_few = 0;
      if (isnan(pd) || pc < pd)
        up = cup;
      double pm = isnan(pd) || pc < pd ? pc : pd;
      r->p_value = 2 * pm < 1 ? 2 * pm : 1;
    }
  }
  r->significant = !isnan(r->p_value) && r->p_value < o->alpha;
  uint64_t change = mn > mb ? mn - mb : mb - mn;
  int big = !isnan(r->delta_pct) && fabs(r->delta_pct) > o->threshold_pct &&
            (o->metric == DF_COUNT || change > o->min_change_ns);
  r->regressed = r->significant && big && up && r->delta_pct > 0;
  r->improved = r->significant && big && !up && r->delta_pct < 0;
  return oom ? -1 : 0;
}

/* Regressed first; rows on one side only last; the significant before the
 * others; then by the change (largest first, unknown last); then by kind
 * and name. */
static int cmp_row(const void *pa, const void *pb) {
  const df_row *a = pa, *b = pb;
  if (a->regressed != b->regressed)
    return b->regressed - a->regressed;
  if ((a->presence == DF_BOTH) != (b->presence == DF_BOTH))
    return a->presence == DF_BOTH ? -1 : 1;
  if (a->significant != b->significant)
    return b->significant - a->significant;
  int na = isnan(a->delta_pct), nb = isnan(b->delta_pct);
  if (na != nb)
    return na - nb;
  if (!na && a->delta_pct != b->delta_pct)
    return a->delta_pct > b->delta_pct ? -1 : 1;
  if (a->kind != b->kind)
    return (int)a->kind - (int)b->kind;
  return strcmp(a->name, b->name);
}

int df_compute(const vx_index *base, const vx_index *next, const df_options *o, df_report *r,
               char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  r->o = *o;
  if (!(r->o.alpha > 0))
    r->o.alpha = DF_ALPHA;
  builder b = {0};
  char cerr[256] = "";
  int ok = !collect(&b, base, 0) && !collect(&b, next, 1);
  int cpu_ok = !ok || (!collect_functions(&b, base, 0, &b.period[0], cerr, sizeof cerr) &&
                       !collect_functions(&b, next, 1, &b.period[1], cerr, sizeof cerr));
  for (size_t i = 0; ok && i < b.n; i++)
    ok = !judge(&b, i, &r->o);
  for (size_t i = 0; i < b.n; i++) {
    qt_dist_free(&b.durs[i][0]);
    qt_dist_free(&b.durs[i][1]);
    r->nregressed += b.rows[i].regressed;
  }
  free(b.durs);
  vh_free(&b.map);
  r->rows = b.rows;
  r->nrows = b.n;
  if (!ok || !cpu_ok) {
    df_free(r);
    if (!ok)
      vx_errf(err, errlen, "out of memory while comparing the traces");
    else
      vx_errf(err, errlen, "%s", cerr);
    return -1;
  }
  if (r->nrows > 1)
    qsort(r->rows, r->nrows, sizeof *r->rows, cmp_row);
  return 0;
}

void df_free(df_report *r) {
  for (size_t i = 0; i < r->nrows; i++)
    free(r->rows[i].name);
  free(r->rows);
  memset(r, 0, sizeof *r);
}

/* ---- Names -------------------------------------------------------------------------------- */

static const char *const metric_names[] = {"p50", "p99", "total", "count"};
static const char *const kind_names[] = {"region", "task", "wait", "syscall", "function"};

int df_metric_parse(const char *s, df_metric *m) {
  for (int k = 0; k < 4; k++)
    if (!strcmp(s, metric_names[k])) {
      *m = (df_metric)k;
      return 0;
    }
  return -1;
}

const char *df_metric_name(df_metric m) { return metric_names[m]; }
const char *df_kind_name(df_kind k) { return kind_names[k]; }

/* ---- Printers ----------------------------------------------------------------------------- */

/* "a -> b +x.x%" of one quantity (durations with units); a side without
 * instances ("-": has[k] 0) shows no duration. */
static void change_cell(char *buf, size_t n, uint64_t a, uint64_t b, int dur, const int has[2]) {
  char s[2][24], pct[16];
  for (int k = 0; k < 2; k++) {
    uint64_t v = k ? b : a;
    if (dur && !has[k])
      snprintf(s[k], sizeof s[k], "-");
    else if (dur)
      st_fmt_dur(s[k], sizeof s[k], v);
    else
      snprintf(s[k], sizeof s[k], "%" PRIu64, v);
  }
  if (!has[0] || !has[1])
    snprintf(pct, sizeof pct, "%s", has[0] ? "removed" : "new");
  else if (a)
    snprintf(pct, sizeof pct, "%+.1f%%", ((double)b - (double)a) / (double)a * 100);
  else
    snprintf(pct, sizeof pct, "%s", b ? "from 0" : "=");
  snprintf(buf, n, "%s -> %s %s", s[0], s[1], pct);
}

static const char *verdict(const df_row *r) {
  return r->presence == DF_ADDED     ? "added"
         : r->presence == DF_REMOVED ? "removed"
         : r->regressed              ? "REGRESSED"
         : r->improved               ? "improved"
         : r->too_few                ? "too few instances"
         : r->significant            ? "within threshold"
                                     : "-";
}

enum { COLS = 8, CELL = 80 };

static void row_cells(const df_row *r, char c[COLS][CELL]) {
  snprintf(c[0], CELL, "%s", df_kind_name(r->kind));
  snprintf(c[1], CELL, "%.*s", CELL - 1, r->name);
  const int has[2] = {r->base.count > 0, r->next.count > 0};
  change_cell(c[2], CELL, r->base.count, r->next.count, 0, has);
  change_cell(c[3], CELL, r->base.total, r->next.total, 1, has);
  change_cell(c[4], CELL, r->base.p50, r->next.p50, 1, has);
  change_cell(c[5], CELL, r->base.p99, r->next.p99, 1, has);
  if (r->kind == DF_FUNCTION) /* (samples: no durations) */
    snprintf(c[4], CELL, "-"), snprintf(c[5], CELL, "-");
  if (isnan(r->p_value))
    snprintf(c[6], CELL, "-");
  else
    snprintf(c[6], CELL, "%.2g", r->p_value);
  snprintf(c[7], CELL, "%s", verdict(r));
}

int df_print_text(FILE *f, const df_report *r, size_t top) {
  static const char *const head[COLS] = {"kind", "name", "count", "total",
                                         "p50",  "p99",  "p",     "verdict"};
  static const int metric_col[] = {[DF_P50] = 4, [DF_P99] = 5, [DF_TOTAL] = 3, [DF_COUNT] = 2};
  const df_options *o = &r->o;
  char mc[32];
  fprintf(f,
          "%zu names compared on %s: a regression is a change above %g%%%s%s that the "
          "instances' spread makes significant (%s, alpha %g)\n",
          r->nrows, df_metric_name(o->metric), o->threshold_pct,
          o->min_change_ns && o->metric != DF_COUNT ? " and " : "",
          o->min_change_ns && o->metric != DF_COUNT ? st_fmt_dur(mc, sizeof mc, o->min_change_ns)
                                                    : "",
          o->metric == DF_COUNT   ? "Poisson counts"
          : o->metric == DF_TOTAL ? "Mann-Whitney U on durations and Poisson counts"
                                  : "Mann-Whitney U on durations",
          o->alpha);
  size_t n = !top || top >= r->nrows ? r->nrows : top > r->nregressed ? top : r->nregressed;
  char(*cells)[COLS][CELL] = calloc(n + 1, sizeof *cells);
  if (!cells)
    return -1;
  int w[COLS] = {0};
  for (size_t i = 0; i <= n; i++) {
    if (i)
      row_cells(&r->rows[i - 1], cells[i]);
    for (int k = 0; k < COLS; k++) {
      if (!i)
        snprintf(cells[0][k], CELL, "%s%s", head[k], k == metric_col[o->metric] ? " *" : "");
      int l = (int)strlen(cells[i][k]);
      w[k] = l > w[k] ? l : w[k];
    }
  }
  for (size_t i = 0; i <= n; i++) {
    for (int k = 0; k < COLS - 1; k++)
      fprintf(f, "%-*s  ", w[k], cells[i][k]);
    fprintf(f, "%s\n", cells[i][COLS - 1]);
  }
  free(cells);
  if (n < r->nrows)
    fprintf(f, "... %zu more rows (--top 0: all)\n", r->nrows - n);
  fprintf(f, "%zu regressed (* the metric compared)\n", r->nregressed);
  return fflush(f) || ferror(f) ? -1 : 0;
}

static void json_num_or_null(cJSON *o, const char *k, double v) {
  if (isnan(v))
    cJSON_AddNullToObject(o, k);
  else
    cJSON_AddNumberToObject(o, k, v);
}

/* A side's numbers; a function's (samples) has no percentiles: null. */
static cJSON *json_side(const df_side *s, int has_durations) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "count", (double)s->count);
  cJSON_AddNumberToObject(o, "total_ns", (double)s->total);
  json_num_or_null(o, "p50_ns", has_durations ? (double)s->p50 : NAN);
  json_num_or_null(o, "p99_ns", has_durations ? (double)s->p99 : NAN);
  if (s->estimated)
    cJSON_AddBoolToObject(o, "percentiles_estimated", 1);
  return o;
}

static cJSON *json_row(const df_row *r) {
  static const char *const presence[] = {"both", "added", "removed"};
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", r->name);
  cJSON_AddStringToObject(o, "kind", df_kind_name(r->kind));
  cJSON_AddStringToObject(o, "status", presence[r->presence]);
  cJSON_AddItemToObject(o, "base", json_side(&r->base, r->kind != DF_FUNCTION));
  cJSON_AddItemToObject(o, "new", json_side(&r->next, r->kind != DF_FUNCTION));
  json_num_or_null(o, "delta_pct", r->delta_pct);
  json_num_or_null(o, "p_value", r->p_value);
  cJSON_AddBoolToObject(o, "too_few", r->too_few);
  cJSON_AddBoolToObject(o, "significant", r->significant);
  cJSON_AddBoolToObject(o, "regressed", r->regressed);
  cJSON_AddBoolToObject(o, "improved", r->improved);
  return o;
}

cJSON *df_json(const df_report *r) {
  cJSON *root = cJSON_CreateObject();
  if (!root)
    return NULL;
  cJSON_AddStringToObject(root, "metric", df_metric_name(r->o.metric));
  cJSON_AddNumberToObject(root, "threshold_pct", r->o.threshold_pct);
  cJSON_AddNumberToObject(root, "min_change_ns", (double)r->o.min_change_ns);
  cJSON_AddNumberToObject(root, "alpha", r->o.alpha);
  cJSON *rows = cJSON_AddArrayToObject(root, "regions");
  cJSON *reg = cJSON_AddArrayToObject(root, "regressed");
  for (size_t i = 0; rows && reg && i < r->nrows; i++) {
    cJSON_AddItemToArray(rows, json_row(&r->rows[i]));
    if (r->rows[i].regressed)
      cJSON_AddItemToArray(reg, cJSON_CreateString(r->rows[i].name));
  }
  if (!rows || !reg) {
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}
