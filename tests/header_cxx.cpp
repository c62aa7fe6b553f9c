// The public header from C++: every macro compiles, CTRACE_SCOPE is RAII.
#include <ctrace/ctrace.h>

#include <cstdio>
#include <cstdlib>

static int work(int n) {
  CTRACE_SCOPE("cxx work");
  int s = 0;
  for (int i = 0; i < n; i++) {
    CTRACE_REGION_BEGIN("cxx loop");
    CTRACE_COUNTER("cxx i", i);
    CTRACE_INSTANT("cxx tick");
    s += i;
    CTRACE_REGION_END();
  }
  return s;
}

int main() {
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = "/dev/null";
  if (ctrace_start(&o) != 0)
    return 1;
  int s = work(10);
  uint64_t t = ctrace_task_begin("cxx task", 0);
  ctrace_log(t, "cxx", "sum %d", s);
  ctrace_task_end(t);
  int r = ctrace_stop();
  std::printf("header_cxx: sum %d, stop %s\n", s, ctrace_strerror(r));
  return r == 0 && s == 45 ? 0 : 1;
}
