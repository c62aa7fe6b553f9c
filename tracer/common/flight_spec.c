/* The flight recorder's settings syntax (common.h): in the runtime and in
 * the `ctrace` command. */
#define _GNU_SOURCE
#include <string.h>
#include <strings.h>

#include "common.h"

static int unit_is(const char *u, size_t n, const char *name) {
  return strlen(name) == n && strncasecmp(u, name, n) == 0;
}

/* One "NUMBER[.FRACTION]UNIT" into ms or bytes; *is_size tells which. */
static int parse_one(const char *p, size_t n, uint64_t *value, int *is_size) {
  uint64_t whole = 0, frac = 0, scale = 1;
  size_t i = 0;
  if (i == n || p[i] < '0' || p[i] > '9')
    return -1;
  for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
    if (__builtin_mul_overflow(whole, 10, &whole) ||
        __builtin_add_overflow(whole, p[i] - '0', &whole))
      return -1;
  if (i < n && p[i] == '.') {
    i++;
    if (i == n || p[i] < '0' || p[i] > '9')
      return -1;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
      if (scale < 1000000000u) {
        frac = frac * 10 + (uint64_t)(p[i] - '0');
        scale *= 10;
      }
  }
  static const struct {
    const char *name;
    uint64_t mult;
    int size;
  } units[] = {{"ms", 1, 0},         {"s", 1000, 0},        {"min", 60000, 0},
               {"h", 3600000, 0},    {"B", 1, 1},           {"KB", 1000, 1},
               {"MB", 1000000, 1},   {"GB", 1000000000, 1}, {"KiB", 1u << 10, 1},
               {"MiB", 1u << 20, 1}, {"GiB", 1u << 30, 1}};
  for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
    if (!unit_is(p + i, n - i, units[k].name))
      continue;
    uint64_t v, f;
    if (__builtin_mul_overflow(whole, units[k].mult, &v) ||
        __builtin_mul_overflow(frac, units[k].mult, &f) || __builtin_add_overflow(v, f / scale, &v))
      return -1;
    *value = v;
    *is_size = units[k].size;
    return 0;
  }
  return -1;
}

int ctrace__flight_parse(const char *spec, uint64_t *window_ms, uint64_t *bytes) {
  *window_ms = *bytes = 0;
  if (!spec || !*spec)
    return -1;
  for (const char *p = spec;;) {
    size_t n = strcspn(p, ",");
    while (n && p[0] == ' ')
      p++, n--;
    while (n && p[n - 1] == ' ')
      n--;
    uint64_t v;
    int is_size;
    if (parse_one(p, n, &v, &is_size))
      return -1;
    uint64_t *slot = is_size ? bytes : window_ms;
    if (*slot) /* twice the same kind */
      return -1;
    if (is_size ? v < (64u << 10) || v > (1ull << 40) : v < 1 || v > 24 * 3600000ull)
      return -1;
    *slot = v;
    p += strcspn(p, ",");
    if (!*p)
      break;
    p++;
  }
  return 0;
}

void ctrace__flight_nth_path(char *out, size_t cap, const char *base, uint32_t n) {
  size_t bl = strlen(base);
  if (bl >= cap)
    bl = cap - 1;
  memcpy(out, base, bl);
  out[bl] = '\0';
  if (n <= 1)
    return;
  static const char suffix[] = ".ctrace";
  size_t sl = sizeof suffix - 1;
  size_t cut = bl >= sl && memcmp(base + bl - sl, suffix, sl) == 0 ? bl - sl : bl;
  char num[16];
  size_t k = 0;
  for (uint32_t v = n; v; v /= 10)
    num[k++] = (char)('0' + v % 10);
  if (cut + 1 + k + (bl - cut) >= cap)
    return; /* (too long: the base itself, overwritten) */
  char *p = out + cut;
  *p++ = '-';
  while (k)
    *p++ = num[--k];
  memcpy(p, base + cut, bl - cut);
  p[bl - cut] = '\0';
}
