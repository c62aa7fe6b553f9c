/* The kernel events of a process that runs already (capture.h's
 * ctrace__perf_attach, for `ctrace record --pid`): CPU samples of every
 * thread it has and of those they start later.
 *
 * A perf event opened on a pid covers that one thread, and, with inherit,
 * the threads it creates after the open; an inherited event cannot be
 * mmapped on its own unless it is per CPU. So each thread listed in
 * /proc/PID/task gets one event per CPU: on each CPU the first event opened
 * owns the CPU's ring (mmapped, as `ctrace run`'s events), and every other
 * thread's event on that CPU writes into it (PERF_EVENT_IOC_SET_OUTPUT), so
 * the drain reads as many rings as `ctrace run` does, whatever the number
 * of threads. The cost is threads x CPUs descriptors, held until close; the
 * open-file limit is raised to its hard limit when they run out, and past
 * that the open fails saying how many were needed.
 *
 * Threads start and exit while they are attached: a thread that exits
 * before its event is opened (ESRCH) is skipped, and /proc/PID/task is read
 * again until a pass finds no thread it had not seen (at most
 * ATTACH_ROUNDS_MAX passes). A thread started meanwhile by a thread already
 * attached inherited that thread's events, and may then be attached again
 * on its own: it is covered twice, and each of its samples (and mapping,
 * exec...) would come twice. The records carry their event's id
 * (PERF_SAMPLE_IDENTIFIER; an inherited event reports its parent's), each
 * id is known to belong to the thread its event was opened on (the
 * "owner"), and a thread's records are kept from the first owner seen
 * through, the others dropped (pr_attach_keep, counted in dups). A thread
 * started by one not attached yet and gone before the next pass is missed.
 *
 * Processes the target forks do not inherit the events (inherit_thread,
 * Linux >= 5.13; before, they do and their records are dropped by pid).
 * The process's code mappings at the open come from /proc/PID/maps
 * (perf_cpu.c), later ones from MMAP2 records. */
#define _GNU_SOURCE
#include "perf_internal.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

/* Passes over /proc/PID/task at most, each attaching the threads that
 * appeared since the one before. */
#define ATTACH_ROUNDS_MAX 100

typedef struct attach_ctx {
  open_ctx *c;
  struct perf_event_attr *attr;
  int kind;
  unsigned pages;
  const char *what, *event_name;
  int *ring_of;  /* cpu -> index in c->p->rings of its ring, or -1 */
  vh_map seen;   /* tids met in /proc/PID/task */
  size_t events; /* opened (for the open-file message) */
} attach_ctx;

/* The user name of uid, or "?" */
static const char *user_name(long uid, char *buf, size_t len) {
  struct passwd pw, *res = NULL;
  char tmp[1024];
  if (uid < 0 || getpwuid_r((uid_t)uid, &pw, tmp, sizeof tmp, &res) != 0 || !res)
    snprintf(buf, len, "?");
  else
    snprintf(buf, len, "%s", res->pw_name);
  return buf;
}

/* The effective uid of process pid (/proc/PID/status), or -1. */
static long proc_euid(int pid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  if (pr_read_small(path, buf, sizeof buf) <= 0)
    return -1;
  const char *u = strstr(buf, "\nUid:");
  long real = -1, eff = -1;
  if (!u || sscanf(u, "\nUid: %ld %ld", &real, &eff) != 2)
    return -1;
  return eff;
}

/* Why an event could not be opened on thread tid: another user's process
 * said so, else as any open. */
static void attach_failed(attach_ctx *a, int e, int tid, int cpu) {
  open_ctx *c = a->c;
  long uid = proc_euid(c->target);
  if ((e == EACCES || e == EPERM) && uid >= 0 && (uid_t)uid != getuid() && geteuid() != 0) {
    char them[64], us[64];
    c->err = e;
    pr_why_add(c->why, c->whylen,
               "%s: process %d belongs to user %s (uid %ld), not to user %s (uid %ld) who runs "
               "ctrace: only root (or CAP_PERFMON) may sample another user's process "
               "(perf_event_open: %s)",
               a->what, c->target, user_name(uid, them, sizeof them), uid,
               user_name((long)getuid(), us, sizeof us), (long)getuid(), strerror(e));
    return;
  }
  if (e == EMFILE || e == ENFILE) {
    struct rlimit rl = {0, 0};
    getrlimit(RLIMIT_NOFILE, &rl);
    c->err = e;
    pr_why_add(c->why, c->whylen,
               "%s: thread %d of process %d: %s after %zu events (one per thread and CPU; the "
               "open-file limit is %llu: raise it with ulimit -n)",
               a->what, tid, c->target, strerror(e), a->events, (unsigned long long)rl.rlim_cur);
    return;
  }
  pr_open_failed(c, e, a->kind, a->what, a->event_name, tid, cpu);
}

/* Raises the soft open-file limit to the hard one. @return 1 if it rose. */
static int more_files(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
    return 0;
  rl.rlim_cur = rl.rlim_max;
  return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

/* Keeps fd open until close (it writes into another event's ring). */
static int keep_fd(ctrace__perf *p, int fd) {
  int *slot = VH_PUSH(p->tfds, p->ntfds, p->tfds_cap);
  if (!slot)
    return -1;
  *slot = fd;
  return 0;
}

/* Hands fd (the event on some thread, on cpu) to the CPU's ring: it
 * becomes the ring when the CPU has none yet. @return 0, or -1 with `why`
 * filled (fd closed). */
static int attach_fd(attach_ctx *a, int fd, int tid, int cpu) {
  open_ctx *c = a->c;
  ctrace__perf *p = c->p;
  uint64_t id = 0;
  if (ioctl(fd, PERF_EVENT_IOC_ID, &id) != 0 || vh_put(&p->owner_of, id, (uint32_t)tid) != 0) {
    c->err = errno ? errno : ENOMEM;
    pr_why_add(c->why, c->whylen, "%s: the id of thread %d's event: %s", a->what, tid,
               strerror(c->err));
    close(fd);
    return -1;
  }
  if (a->ring_of[cpu] < 0) {
    if (pr_map_ring(c, fd, cpu, a->kind, a->pages, a->what) != 0)
      return -1;
    a->ring_of[cpu] = (int)p->nrings - 1;
    return 0;
  }
  if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, p->rings[a->ring_of[cpu]].fd) != 0) {
    c->err = errno;
    pr_why_add(c->why, c->whylen, "%s: thread %d's event into cpu %d's ring (SET_OUTPUT): %s",
               a->what, tid, cpu, strerror(errno));
    close(fd);
    return -1;
  }
  if (keep_fd(p, fd) != 0) {
    c->err = ENOMEM;
    pr_why_add(c->why, c->whylen, "%s: out of memory", a->what);
    close(fd);
    return -1;
  }
  return 0;
}

/* The event on thread tid, on every CPU. @return 1, 0 if the thread is
 * gone, or -1 with `why` filled. */
static int attach_thread(attach_ctx *a, int tid) {
  open_ctx *c = a->c;
  for (int cpu = 0; cpu < c->ncpu; cpu++) {
    int fd = pr_event_open(c, a->attr, tid, cpu);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && more_files())
      fd = pr_event_open(c, a->attr, tid, cpu);
    if (fd < 0) {
      int e = errno;
      if (e == ENODEV) /* offline CPU */
        continue;
      if (e == ESRCH) /* exited meanwhile (events on other CPUs stay, silent) */
        return 0;
      attach_failed(a, e, tid, cpu);
      return -1;
    }
    if (attach_fd(a, fd, tid, cpu) != 0)
      return -1;
    a->events++;
  }
  return 1;
}

/* One pass over /proc/PID/task: attaches the threads not met before.
 * @return how many threads it met for the first time, or -1 with `why`
 * filled. *attached counts those now attached. */
static int attach_pass(attach_ctx *a, unsigned *attached) {
  open_ctx *c = a->c;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", c->target);
  DIR *d = opendir(path);
  if (!d) {
    c->err = errno == ENOENT ? ESRCH : errno;
    pr_why_add(c->why, c->whylen, "%s: process %d: %s", a->what, c->target,
               errno == ENOENT ? "no such process (it has exited)" : strerror(errno));
    return -1;
  }
  int met = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    char *end;
    long tid = strtol(de->d_name, &end, 10);
    if (tid <= 0 || *end || vh_get(&a->seen, (uint64_t)tid))
      continue;
    if (vh_put(&a->seen, (uint64_t)tid, 1) != 0) {
      c->err = ENOMEM;
      pr_why_add(c->why, c->whylen, "%s: out of memory", a->what);
      met = -1;
      break;
    }
    met++;
    int r = attach_thread(a, (int)tid);
    if (r < 0) {
      met = -1;
      break;
    }
    *attached += (unsigned)r;
  }
  closedir(d);
  return met;
}

int pr_attach_rings(open_ctx *c, struct perf_event_attr *attr, int kind, unsigned pages,
                    const char *what, const char *event_name) {
  ctrace__perf *p = c->p;
  size_t first = p->nrings, first_fd = p->ntfds;
  attach_ctx a;
  memset(&a, 0, sizeof a);
  a.c = c;
  a.attr = attr;
  a.kind = kind;
  a.pages = pages;
  a.what = what;
  a.event_name = event_name;
  a.ring_of = malloc((size_t)c->ncpu * sizeof *a.ring_of);
  if (!a.ring_of) {
    c->err = ENOMEM;
    pr_why_add(c->why, c->whylen, "%s: out of memory", what);
    return -1;
  }
  for (int i = 0; i < c->ncpu; i++)
    a.ring_of[i] = -1;
  unsigned attached = 0;
  int r = 0;
  for (int round = 0; round < ATTACH_ROUNDS_MAX; round++) {
    r = attach_pass(&a, &attached);
    if (r <= 0) /* stable, or failed */
      break;
  }
  if (r >= 0 && attached == 0) {
    c->err = ESRCH;
    pr_why_add(c->why, c->whylen, "%s: process %d: no such process (it has exited)", what,
               c->target);
    r = -1;
  } else if (r >= 0 && p->nrings == first) {
    c->err = ENODEV;
    pr_why_add(c->why, c->whylen, "%s: no CPU accepted the event", what);
    r = -1;
  }
  free(a.ring_of);
  vh_free(&a.seen);
  if (r < 0) {
    while (p->ntfds > first_fd)
      close(p->tfds[--p->ntfds]);
    while (p->nrings > first)
      pr_ring_unmap(&p->rings[--p->nrings]);
    return -1;
  }
  p->threads += attached;
  return 0;
}

int pr_attach_keep(ctrace__perf *p, int tid, uint64_t id) {
  if (!p->ident)
    return 1;
  uint32_t *owner = vh_get(&p->owner_of, id);
  if (!owner) /* (not an id of ours: cannot tell) */
    return 1;
  uint32_t *kept = vh_get(&p->kept_from, (uint64_t)(uint32_t)tid);
  if (!kept) {
    vh_put(&p->kept_from, (uint64_t)(uint32_t)tid, *owner); /* (no memory: decided again) */
    return 1;
  }
  if (*kept == *owner)
    return 1;
  p->dups++;
  return 0;
}

void ctrace__perf_attached(const ctrace__perf *p, unsigned *threads, uint64_t *dups) {
  if (threads)
    *threads = p ? p->threads : 0;
  if (dups)
    *dups = p ? p->dups : 0;
}
