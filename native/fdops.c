/* fdops.c — see fdops.h. */
#define _GNU_SOURCE
#include "fdops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dir.h"

#ifndef O_PATH
#define O_PATH 0
#endif

bool pw_same_entry(const struct stat *a, const struct stat *b) {
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
         (a->st_mode & S_IFMT) == (b->st_mode & S_IFMT);
}

static void target_init(pw_target *t) {
  *t = (pw_target){.fd = -1, .dirfd = -1};
}

int pw_target_entry(const pw_entry *e, pw_target *t, struct stat *now) {
  target_init(t);
  if (e->is_dir_row) {
    if (e->selffd >= 0) {
      t->fd = e->selffd;
      if (fstat(t->fd, now)) return -errno;
    } else {
#ifdef __linux__
      /* A folder the caller may not read (its listing failed, already
         reported) can still be changed by its owner: open it O_PATH. */
      int flags = O_PATH | O_DIRECTORY | O_CLOEXEC | (e->depth < 0 ? 0 : O_NOFOLLOW);
      t->fd = pw_open_path(e->path, e->len, flags);
      if (t->fd < 0) return errno == ELOOP || errno == ENOTDIR ? -ESTALE : -errno;
      t->own = true;
      t->opath = true;
      if (fstat(t->fd, now)) return -errno;
#else
      return 1;
#endif
    }
  } else {
    const char *name = e->path + e->name_off;
#ifdef __linux__
    t->fd = openat(e->dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (t->fd < 0) return -errno;
    t->own = true;
    t->opath = true;
    if (fstat(t->fd, now)) return -errno;
#else
    t->dirfd = e->dirfd;
    t->name = name;
    if (fstatat(e->dirfd, name, now, AT_SYMLINK_NOFOLLOW)) return -errno;
#endif
  }
  return pw_same_entry(now, e->st) ? 0 : -ESTALE;
}

int pw_target_path(const char *path, pw_target *t, struct stat *now) {
  target_init(t);
  if (path[0] != '/') return -EINVAL;
#ifdef __linux__
  const int dflags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
#else
  const int dflags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
#endif
  int fd = open("/", dflags & ~O_NOFOLLOW);
  if (fd < 0) return -errno;
  const char *p = path;
  for (;;) {
    while (*p == '/') p++;
    if (!*p) { /* the path was "/" (or ended in '/') */
      t->fd = fd;
      t->own = true;
#ifdef __linux__
      t->opath = true;
#endif
      break;
    }
    const char *end = strchr(p, '/');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    const char *after = p + n;
    while (*after == '/') after++;
    char comp[NAME_MAX + 1];
    int bad = n > NAME_MAX ? ENAMETOOLONG
              : (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') ? EINVAL
                                                                                 : 0;
    if (bad) {
      close(fd);
      return -bad;
    }
    memcpy(comp, p, n);
    comp[n] = 0;
    if (!*after) { /* the entry itself, a link reached as the link */
#ifdef __linux__
      t->fd = openat(fd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      int e = errno;
      close(fd);
      if (t->fd < 0) return -e;
      t->own = true;
      t->opath = true;
#else
      t->dirfd = fd;
      t->own_dirfd = true;
      t->name = p; /* NUL-terminated: the rest of path */
#endif
      break;
    }
    int next = openat(fd, comp, dflags);
    int e = errno;
    close(fd);
    if (next < 0) return -e;
    fd = next;
    p = after;
  }
  return pw_target_stat(t, now);
}

int pw_target_chown(const pw_target *t, uid_t uid, gid_t gid) {
  int rc;
#ifdef __linux__
  if (t->opath) rc = fchownat(t->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
  else
#endif
      if (t->fd >= 0) rc = fchown(t->fd, uid, gid);
  else rc = fchownat(t->dirfd, t->name, uid, gid, AT_SYMLINK_NOFOLLOW);
  return rc ? -errno : 0;
}

int pw_target_stat(const pw_target *t, struct stat *st) {
  int rc = t->fd >= 0 ? fstat(t->fd, st) : fstatat(t->dirfd, t->name, st, AT_SYMLINK_NOFOLLOW);
  return rc ? -errno : 0;
}

int pw_target_chmod(const pw_target *t, mode_t mode) {
  int rc;
#ifdef __linux__
  if (t->opath) {
    /* fchmod refuses O_PATH fds; the fd's /proc link reaches the very inode. */
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", t->fd);
    rc = fchmodat(AT_FDCWD, p, mode, 0);
  } else
#endif
      if (t->fd >= 0) rc = fchmod(t->fd, mode);
  else rc = fchmodat(t->dirfd, t->name, mode, AT_SYMLINK_NOFOLLOW);
  return rc ? -errno : 0;
}

void pw_target_close(pw_target *t) {
  if (t->own && t->fd >= 0) close(t->fd);
  if (t->own_dirfd && t->dirfd >= 0) close(t->dirfd);
  target_init(t);
}
