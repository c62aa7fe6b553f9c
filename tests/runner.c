/* Test runner: `runner NAME` runs one test, `runner` lists them. ctest
 * registers each test of test_list.h as its own test. */
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "test_list.h"

#define TEST_ENTRY(name) {#name, test_##name},
static const struct {
  const char *name;
  int (*fn)(void);
} tests[] = {TEST_LIST(TEST_ENTRY){NULL, NULL}};

int main(int argc, char **argv) {
  if (argc < 2) {
    for (int i = 0; tests[i].name; i++)
      printf("%s\n", tests[i].name);
    return 0;
  }
  /* Whether an LTTng session daemon runs on this machine must not change
   * what these tests see (LTTng's threads, its system calls): the LTTng
   * tests ask for it by name. */
  setenv("CTRACE_LTTNG", "0", 0);
  for (int i = 0; tests[i].name; i++)
    if (strcmp(tests[i].name, argv[1]) == 0) {
      int r = tests[i].fn();
      if (r == 0)
        printf("ok %s\n", argv[1]);
      return r;
    }
  fprintf(stderr, "runner: no test named %s\n", argv[1]);
  return 2;
}
