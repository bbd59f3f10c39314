/*
 * failopendir.c — an LD_PRELOAD shim for tests/native.sh, for the driver
 * built as for macOS (-U__linux__: the listing's dup and fdopendir): call
 * number FAIL_DIR (counted across the process from 1) of fdopendir, or of
 * fcntl(F_DUPFD_CLOEXEC) with FAIL_DUP set, fails with the errno
 * FAIL_ERRNO names (ENOMEM, or EMFILE: the descriptors' limit).  Not part
 * of the library.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long calls;

/* Whether this call is the one to fail (and errno set so). */
static int fails(void) {
  const char *at = getenv("FAIL_DIR");
  if (!at || atomic_fetch_add(&calls, 1) + 1 != atol(at)) return 0;
  const char *e = getenv("FAIL_ERRNO");
  errno = e && strcmp(e, "EMFILE") == 0 ? EMFILE : ENOMEM;
  return 1;
}

DIR *fdopendir(int fd) {
  static DIR *(*real)(int);
  if (!real) real = (DIR * (*)(int)) dlsym(RTLD_NEXT, "fdopendir");
  if (!getenv("FAIL_DUP") && fails()) return NULL;
  return real(fd);
}

int fcntl(int fd, int cmd, ...) {
  static int (*real)(int, int, ...);
  if (!real) real = (int (*)(int, int, ...))dlsym(RTLD_NEXT, "fcntl");
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long); /* every command the library uses takes an int or a pointer */
  va_end(ap);
  if (cmd == F_DUPFD_CLOEXEC && getenv("FAIL_DUP") && fails()) return -1;
  return real(fd, cmd, arg);
}
