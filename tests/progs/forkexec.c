/* Forks two children that exec PROG (argv[1]) at once, and waits for them:
 * `ctrace run` must leave one trace per process. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: forkexec PROG\n");
    return 2;
  }
  for (int i = 0; i < 2; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      execl(argv[1], argv[1], (char *)NULL);
      _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child %d: %d\n", (int)pid, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  }
  return 0;
}
