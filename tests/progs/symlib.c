/* The library tests/progs/symprog.c dlopens (the symbolizer's tests): a
 * global function and a static one, each calling back the program's
 * sp_mark(slot, line) so that the return address lands on a known line. */
__attribute__((noinline)) static int symlib_helper(void (*mark)(int, int), int x);

enum { WORK_DECL = __LINE__ + 1 };
__attribute__((noinline)) int symlib_work(void (*mark)(int, int), int x) {
  volatile int y = x * 5;
  mark(3, __LINE__);
  y += symlib_helper(mark, x);
  return y;
}

__attribute__((noinline)) static int symlib_helper(void (*mark)(int, int), int x) {
  volatile int y = x * 11;
  mark(4, __LINE__);
  y += 1;
  return y;
}

const int symlib_work_decl = WORK_DECL;
