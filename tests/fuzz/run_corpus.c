/* Runs the fuzz target over every file of a directory (the seed corpus and
 * the golden bad files): the same code path as the fuzzer, in every build. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  int n = 0;
  for (int a = 1; a < argc; a++) {
    DIR *d = opendir(argv[a]);
    if (!d) {
      perror(argv[a]);
      return 1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.')
        continue;
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
      FILE *f = fopen(path, "rb");
      if (!f)
        continue;
      fseek(f, 0, SEEK_END);
      long len = ftell(f);
      fseek(f, 0, SEEK_SET);
      uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
      size_t got = fread(buf, 1, (size_t)len, f);
      fclose(f);
      LLVMFuzzerTestOneInput(buf, got);
      /* and every prefix of small files */
      if (got < 65536)
        for (size_t k = 0; k < got; k += 1 + got / 512)
          LLVMFuzzerTestOneInput(buf, k);
      free(buf);
      n++;
    }
    closedir(d);
  }
  printf("fuzz_reader_corpus: %d inputs\n", n);
  return n > 0 ? 0 : 1;
}
