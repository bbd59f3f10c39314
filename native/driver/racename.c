/*
 * racename.c — an LD_PRELOAD shim for tests/native.sh, for the driver
 * built as for macOS (-U__linux__: no O_PATH): the move of a user of the
 * tree between repair's check of an entry and its change.  At the first
 * fchmod, fchmodat, fchown or fchownat, the file STASH (a hard link to a
 * file outside the tree) is renamed over RACE_AT (the entry's path); the
 * call then goes on.  A change made by name lands on the outside file; one
 * made through a descriptor of the checked entry does not.  Not part of
 * the library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_int done;

static void race(void) {
  const char *stash = getenv("STASH"), *at = getenv("RACE_AT");
  if (stash && at && !atomic_exchange(&done, 1) && rename(stash, at) == 0)
    fprintf(stderr, "RACED\n");
}

int fchmodat(int dirfd, const char *name, mode_t mode, int flags) {
  static int (*real)(int, const char *, mode_t, int);
  if (!real) real = (int (*)(int, const char *, mode_t, int))dlsym(RTLD_NEXT, "fchmodat");
  race();
  return real(dirfd, name, mode, flags);
}

int fchmod(int fd, mode_t mode) {
  static int (*real)(int, mode_t);
  if (!real) real = (int (*)(int, mode_t))dlsym(RTLD_NEXT, "fchmod");
  race();
  return real(fd, mode);
}

int fchownat(int dirfd, const char *name, uid_t uid, gid_t gid, int flags) {
  static int (*real)(int, const char *, uid_t, gid_t, int);
  if (!real) real = (int (*)(int, const char *, uid_t, gid_t, int))dlsym(RTLD_NEXT, "fchownat");
  race();
  return real(dirfd, name, uid, gid, flags);
}

int fchown(int fd, uid_t uid, gid_t gid) {
  static int (*real)(int, uid_t, gid_t);
  if (!real) real = (int (*)(int, uid_t, gid_t))dlsym(RTLD_NEXT, "fchown");
  race();
  return real(fd, uid, gid);
}
