/* A do-nothing LD_PRELOAD shim: write, read, pthread_mutex_lock/unlock,
 * malloc and free that only call the next definition. bench/run_overhead.sh
 * runs bench_wrappers under it to show what interposing a call costs on
 * this machine before any recording (the floor under ctrace's wrappers:
 * one more call, one more indirect jump, a few more cache lines after a
 * system call). Not part of ctrace. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);

static ssize_t (*next_write)(int, const void *, size_t);
static ssize_t (*next_read)(int, void *, size_t);
static int (*next_lock)(pthread_mutex_t *);
static int (*next_unlock)(pthread_mutex_t *);

__attribute__((constructor)) static void shim_init(void) {
  next_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
  next_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
  next_lock = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_lock");
  next_unlock = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_unlock");
}

ssize_t write(int fd, const void *buf, size_t n) { return next_write(fd, buf, n); }
ssize_t read(int fd, void *buf, size_t n) { return next_read(fd, buf, n); }
int pthread_mutex_lock(pthread_mutex_t *m) { return next_lock(m); }
int pthread_mutex_unlock(pthread_mutex_t *m) { return next_unlock(m); }
void *malloc(size_t n) { return __libc_malloc(n); }
void free(void *p) { __libc_free(p); }
