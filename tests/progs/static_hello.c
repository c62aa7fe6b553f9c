/* Built with -static: `ctrace run` must refuse it clearly. */
#include <stdio.h>
int main(void) {
  puts("hello");
  return 0;
}
