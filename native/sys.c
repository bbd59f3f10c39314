/* sys.c — see sys.h. */
#define _GNU_SOURCE
#include "sys.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
/* statx by its number: glibc has its wrapper from 2.28 on, after the
   release libraries' 2.27 floor */
#if defined(SYS_statx)
#define PW_SYS_STATX SYS_statx
#elif defined(__x86_64__)
#define PW_SYS_STATX 332
#elif defined(__aarch64__)
#define PW_SYS_STATX 291
#endif
#endif

#include "pwalk.h"

/* Never unloaded: a process may end (Deno's main module returns) while a
   job's workers still run, when its caller dropped an unfinished walk.
   Unloading the code under them crashed the exit (SIGSEGV); kept mapped,
   they are ended with the process. */
#ifdef RTLD_NODELETE
__attribute__((constructor)) static void pw_pin(void) {
  Dl_info self;
  if (dladdr((void *)pw_pin, &self) && self.dli_fname)
    dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}
#endif

#define PW_OVERLAYFS_MAGIC 0x794c7630
#define PW_FUSE_MAGIC 0x65735546

/* The file system type (statfs's f_type) of the file open as fd; 0 when
   not known (the call failed; not Linux). */
static long fs_type(int fd) {
#ifdef __linux__
  struct statfs fs;
  return fstatfs(fd, &fs) ? 0 : (long)fs.f_type;
#else
  (void)fd;
  return 0;
#endif
}

bool pw_fd_on_fuse(int fd) { return fs_type(fd) == PW_FUSE_MAGIC; }

bool pw_fd_lists_other_inodes(int fd) {
  long t = fs_type(fd);
  return t == PW_OVERLAYFS_MAGIC || t == PW_FUSE_MAGIC;
}

bool pw_fd_on_overlayfs(int fd) { return fs_type(fd) == PW_OVERLAYFS_MAGIC; }

void pw_thread_name(const char *name) {
#if defined(__linux__)
  (void)prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
#elif defined(__APPLE__) && defined(__MACH__)
  /* (macOS's takes the calling thread's name only; tests/native.sh's
     macOS-like build of this file on Linux has no __MACH__) */
  (void)pthread_setname_np(name);
#else
  (void)name;
#endif
}

int pw_thread_start(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg,
                    const char *name) {
  int e = pthread_create(t, attr, fn, arg);
#if defined(__linux__)
  if (!e) (void)pthread_setname_np(*t, name);
#else
  (void)name;
#endif
  return e;
}

int pw_statx(int dirfd, const char *name, unsigned want, pw_statx_res *out) {
  memset(out, 0, sizeof *out);
#if defined(__linux__) && defined(PW_SYS_STATX)
  /* struct statx as the kernel lays it out (256 bytes): stx_mask (u32) at
     0, stx_btime {s64 tv_sec; u32 tv_nsec} at 80, stx_mnt_id (u64) at 144 */
  union {
    unsigned char b[256];
    uint64_t align;
  } sx;
  memset(&sx, 0, sizeof sx);
  int flags = AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH);
  if (syscall(PW_SYS_STATX, dirfd, name, flags, want, sx.b)) return -errno;
  uint32_t mask;
  memcpy(&mask, sx.b, sizeof mask);
  out->mask = mask & want & (PW_STATX_BTIME | PW_STATX_MNT_ID);
  if (out->mask & PW_STATX_BTIME) {
    memcpy(&out->btime_sec, sx.b + 80, sizeof out->btime_sec);
    memcpy(&out->btime_nsec, sx.b + 88, sizeof out->btime_nsec);
  }
  if (out->mask & PW_STATX_MNT_ID) memcpy(&out->mnt_id, sx.b + 144, sizeof out->mnt_id);
  return 0;
#else
  (void)dirfd, (void)name, (void)want;
  return -ENOSYS;
#endif
}

#ifdef __APPLE__
#define COND_CLOCK CLOCK_REALTIME /* no pthread_condattr_setclock */
#else
#define COND_CLOCK CLOCK_MONOTONIC
#endif

int pw_cond_init(pthread_cond_t *cv) {
  pthread_condattr_t a;
  int e = pthread_condattr_init(&a);
  if (e) return e;
#ifndef __APPLE__
  e = pthread_condattr_setclock(&a, COND_CLOCK);
#endif
  if (!e) e = pthread_cond_init(cv, &a);
  pthread_condattr_destroy(&a);
  return e;
}

void pw_deadline(struct timespec *until, int64_t ns) {
  clock_gettime(COND_CLOCK, until);
  ns += until->tv_nsec;
  until->tv_sec += (time_t)(ns / 1000000000);
  until->tv_nsec = (long)(ns % 1000000000);
}

int pw_write_all(int fd, const void *buf, size_t len) {
  return pw_write_until(fd, buf, len, NULL, NULL);
}

/* SIGXFSZ, which a write past RLIMIT_FSIZE (`ulimit -f`) raises, kills
   the process by default: a script's report() would die with its
   temporary output left behind.  The CLI listens for it, a script need
   not: blocked in this thread while it writes, and a raised one taken
   (sigwait) before the mask is put back, so that the write fails with
   EFBIG instead, said as the output's error.  A thread that had it
   blocked already keeps its mask and whatever is pending. */
static void xfsz_nodefault(void) {
#ifdef __APPLE__
  /* macOS sends SIGXFSZ to the process, not to the writing thread: the
     first thread that does not block it takes it (the host's own, Deno's
     main thread), and its default action ends the process all the same.
     Ignored, it only makes the write fail with EFBIG (as Node.js sets it
     at its start); a handler the host set (the CLI's listener) is kept.
     Once per process. */
  static _Atomic bool done;
  if (atomic_exchange(&done, true)) return;
  struct sigaction sa;
  if (sigaction(SIGXFSZ, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) &&
      sa.sa_handler == SIG_DFL) {
    sa.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &sa, NULL);
  }
#endif
}

/* SIGXFSZ blocked in this thread for its whole life (pw_xfsz_hold): the
   blocks around each write are then no system calls at all. */
static _Thread_local bool xfsz_held;

void pw_xfsz_hold(void) {
  xfsz_nodefault();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGXFSZ);
  xfsz_held = pthread_sigmask(SIG_BLOCK, &set, NULL) == 0;
}

void pw_xfsz_block(pw_xfsz_mask *m) {
  if (xfsz_held) { /* blocked for good: a SIGXFSZ raised stays pending here, never delivered */
    m->masked = false;
    return;
  }
  xfsz_nodefault();
  sigemptyset(&m->set);
  sigaddset(&m->set, SIGXFSZ);
  m->masked = pthread_sigmask(SIG_BLOCK, &m->set, &m->old) == 0 && !sigismember(&m->old, SIGXFSZ);
}

void pw_xfsz_restore(pw_xfsz_mask *m) {
  if (!m->masked) return;
  sigset_t pending;
  int sig;
  if (sigpending(&pending) == 0 && sigismember(&pending, SIGXFSZ)) (void)sigwait(&m->set, &sig);
  pthread_sigmask(SIG_SETMASK, &m->old, NULL);
}

static int write_until(int fd, const void *buf, size_t len, _Atomic bool *stop,
                       _Atomic uint64_t *count);

int pw_write_until(int fd, const void *buf, size_t len, _Atomic bool *stop,
                   _Atomic uint64_t *count) {
  pw_xfsz_mask m;
  pw_xfsz_block(&m);
  int r = write_until(fd, buf, len, stop, count);
  pw_xfsz_restore(&m);
  return r;
}

static int write_until(int fd, const void *buf, size_t len, _Atomic bool *stop,
                       _Atomic uint64_t *count) {
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n >= 0) {
      if (count) atomic_fetch_add_explicit(count, (uint64_t)n, memory_order_relaxed);
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (errno == EINTR) continue;
    /* a non-blocking description (pw_reopen_nonblocking, or one handed
       down so by a parent): full for now, so wait until it takes more */
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
    if (stop && atomic_load(stop)) return -ECANCELED;
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    if (poll(&pfd, 1, stop ? PW_FULL_POLL_MS : -1) < 0 && errno != EINTR) return -errno;
  }
  return 0;
}

int pw_reopen_nonblocking(int fd) {
  struct stat st, nst;
  if (fstat(fd, &st) || !S_ISFIFO(st.st_mode)) return -1;
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int nfd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (nfd < 0) return -1;
  if (fstat(nfd, &nst) || nst.st_dev != st.st_dev || nst.st_ino != st.st_ino) {
    close(nfd);
    return -1;
  }
  return nfd;
}

void *pw_grow(void *p, size_t *cap, size_t need) {
  size_t c = *cap ? *cap : 4096;
  while (c < need) c *= 2;
  void *n = realloc(p, c);
  if (n) *cap = c;
  return n;
}

static int affinity_count(void) {
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

#ifdef __linux__
/* Where /proc and the cgroup mounts are: "" but in the quota reader's
   unit test (native/driver/cpuquota.c), which builds a fake tree. */
#ifndef PW_PROC_PREFIX
#define PW_PROC_PREFIX ""
#endif

/* Scratch space of one reading: paths are up to PATH_MAX, kept off the
   caller's stack (the governor thread's is small). */
typedef struct cpu_scratch {
  char line_root[PATH_MAX], line_mnt[PATH_MAX]; /* one mountinfo line's */
  char root[PATH_MAX], mnt[PATH_MAX];           /* the chosen mount's */
  char dir[PATH_MAX + 256], file[PATH_MAX + 300];
} cpu_scratch;

/* CPUs one cgroup folder's quota grants (quota / period), or 0 when it
   sets none: cgroup v2's cpu.max ("max 100000", "150000 100000"),
   v1's cpu.cfs_quota_us (-1: none) over cpu.cfs_period_us. */
static double quota_at(cpu_scratch *x, bool v2, long long *period_us) {
  char buf[64];
  long long quota = -1, period = 0;
  size_t cap = sizeof x->file;
  FILE *f;
  if (v2) {
    if ((size_t)snprintf(x->file, cap, "%s/cpu.max", x->dir) >= cap) return 0;
    if (!(f = fopen(x->file, "re"))) return 0;
    if (fscanf(f, "%63s %lld", buf, &period) == 2 && strcmp(buf, "max")) quota = atoll(buf);
    fclose(f);
  } else {
    if ((size_t)snprintf(x->file, cap, "%s/cpu.cfs_quota_us", x->dir) >= cap) return 0;
    if (!(f = fopen(x->file, "re"))) return 0;
    if (fscanf(f, "%lld", &quota) != 1) quota = -1;
    fclose(f);
    if ((size_t)snprintf(x->file, cap, "%s/cpu.cfs_period_us", x->dir) >= cap) return 0;
    if (!(f = fopen(x->file, "re"))) return 0;
    if (fscanf(f, "%lld", &period) != 1) period = 0;
    fclose(f);
  }
  if (quota <= 0 || period <= 0) return 0;
  *period_us = period;
  return (double)quota / (double)period;
}

/* Is `want` one of the comma-separated names in list[0..len)? */
static bool has_name(const char *list, size_t len, const char *want) {
  size_t w = strlen(want);
  for (const char *p = list, *end = list + len; p < end;) {
    const char *c = memchr(p, ',', (size_t)(end - p));
    size_t n = (size_t)((c ? c : end) - p);
    if (n == w && !memcmp(p, want, w)) return true;
    p = c ? c + 1 : end;
  }
  return false;
}

/* Copy mountinfo's field at *s (up to a space) to out, decoding its \NNN
   escapes (space, tab, newline, backslash); false if it does not fit. */
static bool mount_field(const char **s, char *out, size_t cap) {
  const char *p = *s;
  size_t n = 0;
  while (*p == ' ') p++;
  while (*p && *p != ' ' && *p != '\n') {
    char c = *p++;
    if (c == '\\' && p[0] >= '0' && p[0] <= '3' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' &&
        p[2] <= '7') {
      c = (char)((p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0'));
      p += 3;
    }
    if (n + 1 >= cap) return false;
    out[n++] = c;
  }
  out[n] = 0;
  *s = p;
  return n > 0;
}

/* How much of the cgroup path cg a mount of cgroup root `root` covers:
   its length when cg lies below it ("/" covers everything), else -1. */
static long covers(const char *root, const char *cg) {
  size_t rl = strlen(root);
  if (rl == 1 && root[0] == '/') return 0;
  if (!strncmp(cg, root, rl) && (cg[rl] == '/' || !cg[rl])) return (long)rl;
  return -1;
}

/* Find the mount of the hierarchy that holds the cpu controller (v2: a
   cgroup2 mount; v1: a cgroup mount with the cpu option) in x->mnt and
   x->root: of several, the one whose root holds cg most closely; of none
   that holds it (a cgroup namespace's view, paths relative to the
   mount), the first. */
static bool cpu_mount(cpu_scratch *x, bool v2, const char *cg) {
  FILE *f = fopen(PW_PROC_PREFIX "/proc/self/mountinfo", "re");
  if (!f) return false;
  char *line = NULL;
  size_t cap = 0;
  long best = -2;
  while (getline(&line, &cap, f) > 0) {
    /* id parent maj:min ROOT MOUNTPOINT options [optional...] - FSTYPE SOURCE SUPEROPTS */
    const char *dash = strstr(line, " - cgroup");
    if (!dash) continue;
    const char *fs = dash + 3;
    bool cpu;
    if (v2) {
      cpu = !strncmp(fs, "cgroup2 ", 8);
    } else {
      const char *opts = strncmp(fs, "cgroup ", 7) ? NULL : strchr(fs + 7, ' ');
      size_t olen = opts ? strcspn(opts + 1, " \n") : 0;
      cpu = opts && has_name(opts + 1, olen, "cpu");
    }
    if (!cpu) continue;
    const char *p = line;
    for (int k = 0; k < 3 && p; k++) { /* past id, parent, maj:min */
      p = strchr(p, ' ');
      if (p) p++;
    }
    if (!p || !mount_field(&p, x->line_root, sizeof x->line_root) ||
        !mount_field(&p, x->line_mnt, sizeof x->line_mnt))
      continue;
    long c = covers(x->line_root, cg);
    if (c > best || (best == -2 && c == -1)) {
      best = c;
      strcpy(x->root, x->line_root);
      strcpy(x->mnt, x->line_mnt);
    }
  }
  free(line);
  fclose(f);
  return best != -2;
}

/* Record the quota folder x->dir in c (up to PW_CPU_QUOTA_DIRS). */
static void note_dir(pw_cpus *c, const cpu_scratch *x) {
  if (c->ndirs == PW_CPU_QUOTA_DIRS) return;
  char *d = strdup(x->dir);
  if (d) c->dirs[c->ndirs++] = d;
}

/* The quotas along the folders of this process's cgroup cg, from its own
   up to the hierarchy's mount, in the hierarchy of one line of
   /proc/self/cgroup ("0::/path" v2, "N:cpu,cpuacct:/path" v1): the
   tightest into c, every folder with one into c->dirs. */
static void quotas_along(pw_cpus *c, cpu_scratch *x, const char *cg, bool v2) {
  if (!cpu_mount(x, v2, cg)) return;
  long skip = covers(x->root, cg);
  if (skip > 0) cg += skip; /* a mount of a cgroup below the top: relative to it */
  if (strstr(cg, "/..")) return; /* outside what the mount shows */
  size_t cap = sizeof x->dir;
  if ((size_t)snprintf(x->dir, cap, "%s%s%s", PW_PROC_PREFIX, x->mnt, strcmp(cg, "/") ? cg : "") >=
      cap)
    return;
  size_t base = strlen(PW_PROC_PREFIX) + strlen(x->mnt);
  for (;;) {
    long long period = 0;
    double q = quota_at(x, v2, &period);
    if (q > 0) {
      note_dir(c, x);
      if (!c->quota || q < c->quota) {
        c->quota = q;
        c->period_ns = period > 0 && period < 1000000000ll ? period * 1000 : 1000000000ll;
      }
    }
    char *slash = strrchr(x->dir, '/');
    if (strlen(x->dir) <= base || !slash || (size_t)(slash - x->dir) < base) break;
    *slash = 0;
  }
}
#endif

void pw_cpus_read(pw_cpus *c) {
  *c = (pw_cpus){.affinity = affinity_count()};
  c->count = c->affinity;
#ifdef __linux__
  FILE *f = fopen(PW_PROC_PREFIX "/proc/self/cgroup", "re");
  cpu_scratch *x = f ? malloc(sizeof *x) : NULL;
  if (x) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
      if (line[n - 1] == '\n') line[--n] = 0;
      char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
      if (!b || b[1] != '/') continue;
      bool v2 = b == a + 1 && !strncmp(line, "0:", 2);
      if (!v2 && !has_name(a + 1, (size_t)(b - a - 1), "cpu")) continue;
      quotas_along(c, x, b + 1, v2);
    }
    free(line);
    free(x);
  }
  if (f) fclose(f);
  /* 1.5 CPUs: two run, part of the time */
  if (c->quota > 0 && c->quota < c->affinity) c->count = (int)ceil(c->quota);
#endif
}

void pw_cpus_free(pw_cpus *c) {
  for (int i = 0; i < c->ndirs; i++) free(c->dirs[i]);
  c->ndirs = 0;
}

int pw_cpu_count(void) {
  pw_cpus c;
  pw_cpus_read(&c);
  pw_cpus_free(&c);
  return c.count;
}

/* UTF-16 length of valid UTF-8, or -1 when invalid.  ASCII runs go eight
   bytes at a time. */
int64_t pw_utf16_len(const uint8_t *s, size_t n) {
  int64_t units = 0;
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t v;
      memcpy(&v, s + i, 8);
      if (!(v & 0x8080808080808080ull)) {
        i += 8;
        units += 8;
        continue;
      }
    }
    if (s[i] < 0x80) {
      i++;
      units++;
      continue;
    }
    size_t k = pw_utf8_seq(s + i, n - i);
    if (!k) return -1;
    i += k;
    units += k == 4 ? 2 : 1; /* a surrogate pair */
  }
  return units;
}

PW_API int32_t pw_foreground(int32_t fd) {
  pid_t g = tcgetpgrp(fd);
  if (g < 0) return -1;
  return g == getpgrp() ? 1 : 0;
}

PW_API void pw_die_by_signal(int32_t sig) {
  /* The runtime's handler is replaced by the default action, the signal
     unblocked and sent: the process ends killed by it, as the shell expects
     of a program stopped by Ctrl-C (a loop around it stops too). */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  if (sig > 0 && sig < 64 && sigaction(sig, &sa, NULL) == 0) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    kill(getpid(), sig);
    /* delivered to some thread of the process; wait for it */
    for (int i = 0; i < 100; i++) usleep(10000);
  }
  _exit(128 + sig);
}
