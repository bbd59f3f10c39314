/* sys.c — see sys.h. */
#define _GNU_SOURCE
#include "sys.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#endif

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

int pw_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

void *pw_grow(void *p, size_t *cap, size_t need) {
  size_t c = *cap ? *cap : 4096;
  while (c < need) c *= 2;
  void *n = realloc(p, c);
  if (n) *cap = c;
  return n;
}

int pw_cpu_affinity(void) {
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

/* CPUs one cgroup folder's quota grants (quota / period), or 0 when it
   sets none: cgroup v2's cpu.max ("max 100000", "150000 100000"),
   v1's cpu.cfs_quota_us (-1: none) over cpu.cfs_period_us. */
static double quota_at(const char *dir, bool v2, long long *period_us) {
  char path[4096], buf[64];
  long long quota = -1, period = 0;
  if (v2) {
    if (snprintf(path, sizeof path, "%s/cpu.max", dir) >= (int)sizeof path) return 0;
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    if (fscanf(f, "%63s %lld", buf, &period) == 2 && strcmp(buf, "max")) quota = atoll(buf);
    fclose(f);
  } else {
    if (snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir) >= (int)sizeof path) return 0;
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    if (fscanf(f, "%lld", &quota) != 1) quota = -1;
    fclose(f);
    if (snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir) >= (int)sizeof path) return 0;
    if (!(f = fopen(path, "re"))) return 0;
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

/* The mount point of the cgroup hierarchy that holds the cpu controller
   (v2: the cgroup2 mount; v1: a cgroup mount with the cpu option), and
   the cgroup path of its root (not "/" in a container's view). */
static bool cpu_mount(bool v2, char *mnt, size_t mcap, char *root, size_t rcap) {
  FILE *f = fopen(PW_PROC_PREFIX "/proc/self/mountinfo", "re");
  if (!f) return false;
  char *line = NULL;
  size_t cap = 0;
  bool found = false;
  while (!found && getline(&line, &cap, f) > 0) {
    /* id parent maj:min ROOT MOUNTPOINT options... - FSTYPE SOURCE SUPEROPTS */
    char r[1024], m[1024], fs[64], src[256], opts[1024];
    const char *dash = strstr(line, " - ");
    if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", r, m) != 2) continue;
    int k = sscanf(dash + 3, "%63s %255s %1023s", fs, src, opts);
    if (k < 2) continue;
    bool cpu = v2 ? !strcmp(fs, "cgroup2")
                  : !strcmp(fs, "cgroup") && k == 3 && has_name(opts, strlen(opts), "cpu");
    if (!cpu) continue;
    if (strlen(m) >= mcap || strlen(r) >= rcap) continue;
    strcpy(mnt, m);
    strcpy(root, r);
    found = true;
  }
  free(line);
  fclose(f);
  return found;
}

/* The smallest quota along the folders of this process's cgroup, from
   its own up to the hierarchy's root, in the hierarchy given by one line
   of /proc/self/cgroup ("0::/path" v2, "N:cpu,cpuacct:/path" v1). */
static double quota_along(const char *cg, bool v2, long long *period_us, char *at, size_t atcap) {
  char mnt[1024], root[1024], dir[4096];
  if (!cpu_mount(v2, mnt, sizeof mnt, root, sizeof root)) return 0;
  /* a mount of a cgroup below the top: paths are relative to its root */
  size_t rl = strlen(root);
  if (rl > 1 && !strncmp(cg, root, rl) && (cg[rl] == '/' || !cg[rl])) cg += rl;
  if (snprintf(dir, sizeof dir, "%s%s%s", PW_PROC_PREFIX, mnt, strcmp(cg, "/") ? cg : "") >=
      (int)sizeof dir)
    return 0;
  size_t base = strlen(PW_PROC_PREFIX) + strlen(mnt);
  double best = 0;
  for (;;) {
    long long p = 0;
    double q = quota_at(dir, v2, &p);
    if (q && (!best || q < best)) {
      best = q;
      *period_us = p;
      if (at && strlen(dir) < atcap) strcpy(at, dir);
    }
    char *slash = strrchr(dir, '/');
    if (strlen(dir) <= base || !slash || (size_t)(slash - dir) < base) break;
    *slash = 0;
  }
  return best;
}
#endif

double pw_cpu_quota(int64_t *period_ns, char *dir, size_t dircap) {
#ifdef __linux__
  FILE *f = fopen(PW_PROC_PREFIX "/proc/self/cgroup", "re");
  if (!f) return 0;
  char *line = NULL;
  size_t cap = 0;
  double best = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    if (line[n - 1] == '\n') line[--n] = 0;
    char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
    if (!b) continue;
    bool v2 = b == a + 1 && !strncmp(line, "0:", 2);
    if (!v2 && !has_name(a + 1, (size_t)(b - a - 1), "cpu")) continue;
    long long p = 0;
    char at[4096] = "";
    double q = quota_along(b + 1, v2, &p, at, sizeof at);
    if (q && (!best || q < best)) {
      best = q;
      if (period_ns) *period_ns = (int64_t)p * 1000;
      if (dir && strlen(at) < dircap) strcpy(dir, at);
    }
  }
  free(line);
  fclose(f);
  return best;
#else
  (void)period_ns;
  (void)dir;
  (void)dircap;
  return 0;
#endif
}

int pw_cpu_count(void) {
  int n = pw_cpu_affinity();
  double q = pw_cpu_quota(NULL, NULL, 0);
  int whole = q > 0 ? (int)ceil(q) : n; /* 1.5 CPUs: two run, part of the time */
  return whole < n ? whole : n;
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
