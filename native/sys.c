/* sys.c — see sys.h. */
#define _GNU_SOURCE
#include "sys.h"

#include <dlfcn.h>
#include <errno.h>
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

int pw_cpu_count(void) {
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
