/* Built with -DCTRACE_DISABLE and NOT linked with libctrace: if any macro
 * still referred to the library, this would not link. Arguments are not
 * evaluated, like assert(). */
#include <ctrace/ctrace.h>
#include <stdio.h>

static int calls;
static int side_effect(void) { return ++calls; }

int main(void) {
  CTRACE_SCOPE("gone");
  CTRACE_REGION_BEGIN("gone");
  CTRACE_COUNTER("gone", side_effect());
  CTRACE_INSTANT("gone");
  CTRACE_REGION_END();
  printf("header_disabled: %d calls\n", calls);
  return calls == 0 ? 0 : 1;
}
