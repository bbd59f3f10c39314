/* fdops.c — see fdops.h. */
#define _GNU_SOURCE
#include "fdops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dir.h"
#include "pwalk.h"
#include "sys.h"

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

#ifndef __linux__
/* No O_PATH: an entry checked by name and then changed by name
   (fchownat, fchmodat) could be another by then, a hard link to a file
   outside the tree renamed over the name by a user of the tree (macOS has
   no protected_hardlinks).  So the entry is opened (never followed, never
   waiting: a FIFO), the descriptor's fstat is the check and its fchown or
   fchmod the change: the very inode checked.  O_EVTONLY (macOS) opens a
   file for no reading at all, as O_PATH would.  A link is reached as the
   link (O_SYMLINK); where that flag is missing, by name, since lchown and
   lchmod of a name that is a link change only the link.  What cannot be
   opened so (a device, whose open may act on it; a socket) is reached
   by name to be looked at, but not changed: its change is -ENOTSUP, said
   as the entry's error. */
static int open_entry(int dirfd, const char *name, pw_target *t, struct stat *now) {
  if (fstatat(dirfd, name, now, AT_SYMLINK_NOFOLLOW)) return -errno;
  int flags = O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
#ifdef O_EVTONLY
  flags |= O_EVTONLY;
#else
  flags |= O_RDONLY;
#endif
  if (S_ISLNK(now->st_mode)) {
#ifdef O_SYMLINK
    flags = (flags & ~O_NOFOLLOW) | O_SYMLINK;
#else
    t->dirfd = dirfd;
    t->name = name;
    return 0;
#endif
  } else if (S_ISDIR(now->st_mode)) {
    flags |= O_DIRECTORY;
  } else if (!S_ISREG(now->st_mode) && !S_ISFIFO(now->st_mode)) {
    t->dirfd = dirfd;
    t->name = name;
    t->no_change = true;
    return 0;
  }
  t->fd = openat(dirfd, name, flags);
  /* a link or another type put in its place since the fstatat: a race */
  if (t->fd < 0) return errno == ELOOP || errno == ENOTDIR || errno == ENXIO ? -ESTALE : -errno;
  t->own = true;
  struct stat was = *now;
  if (fstat(t->fd, now)) return -errno;
  return pw_same_entry(now, &was) ? 0 : -ESTALE;
}
#endif

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
    int r = open_entry(e->dirfd, name, t, now);
    if (r) return r;
#endif
  }
  return pw_same_entry(now, e->st) ? 0 : -ESTALE;
}

#ifdef __linux__
/* Folders on the way: O_PATH (no read permission needed), never a link. */
#define FOLDER_FLAGS (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define FOLDER_OPATH true
#else
#define FOLDER_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define FOLDER_OPATH false
#endif

/* The next component of p (no '/' at its start) into comp: its length, or
   -errno for an empty, "." or ".." component or one longer than NAME_MAX.
   *after is set past it and its one '/'. */
static int component(const char *p, char comp[NAME_MAX + 1], const char **after) {
  const char *end = strchr(p, '/');
  size_t n = end ? (size_t)(end - p) : strlen(p);
  if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return -EINVAL;
  if (n > NAME_MAX) return -ENAMETOOLONG;
  memcpy(comp, p, n);
  comp[n] = 0;
  *after = end ? end + 1 : p + n;
  if (end && !**after) return -EINVAL; /* a trailing '/' */
  return (int)n;
}

int pw_open_folder(const char *path) {
  if (path[0] != '/') return -EINVAL;
  int fd = open("/", FOLDER_FLAGS & ~O_NOFOLLOW);
  if (fd < 0) return -errno;
  for (const char *p = path + 1; *p;) {
    char comp[NAME_MAX + 1];
    int n = component(p, comp, &p);
    if (n < 0) {
      close(fd);
      return n;
    }
    int next = openat(fd, comp, FOLDER_FLAGS);
    int e = errno;
    close(fd);
    if (next < 0) return -e;
    fd = next;
  }
  return fd;
}

#ifdef __linux__
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
/* openat2(2), Linux 5.6: the same number (437) on every architecture */
#ifndef PW_SYS_OPENAT2
#define PW_SYS_OPENAT2 437
#endif
struct pw_open_how {
  uint64_t flags, mode, resolve;
};
#define PW_RESOLVE_NO_MAGICLINKS 0x02
#define PW_RESOLVE_NO_SYMLINKS 0x04
#define PW_RESOLVE_BENEATH 0x08

/* rel as pw_target_at's loop takes it (component(): every component one
   name, not empty, ".", "..", nor longer than NAME_MAX; no trailing '/'). */
static bool plain_rel(const char *p) {
  if (!*p || *p == '/') return false;
  char comp[NAME_MAX + 1];
  while (*p)
    if (component(p, comp, &p) < 0) return false;
  return true;
}

/* The whole of rel in one call: openat2 with no link followed anywhere
   (RESOLVE_NO_SYMLINKS; the last component, a link, is reached as the
   link: O_PATH | O_NOFOLLOW) and never above dirfd (RESOLVE_BENEATH), as
   the loop below reaches it one component at a time.  -1 when it cannot
   tell (no openat2: before Linux 5.6, or refused by a seccomp filter; or
   any failure, which the loop then makes again to give its own errno). */
static atomic_bool nosys;
static int open_beneath(int dirfd, const char *rel) {
  if (atomic_load_explicit(&nosys, memory_order_relaxed) || !plain_rel(rel)) return -1;
  struct pw_open_how how = {.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
                            .resolve = PW_RESOLVE_NO_SYMLINKS | PW_RESOLVE_NO_MAGICLINKS |
                                       PW_RESOLVE_BENEATH};
  long fd = syscall(PW_SYS_OPENAT2, dirfd, rel, &how, sizeof how);
  if (fd < 0 && (errno == ENOSYS || errno == EPERM || errno == E2BIG))
    atomic_store_explicit(&nosys, true, memory_order_relaxed);
  return fd < 0 ? -1 : (int)fd;
}

/* The folders on the way at the start of p (where open_beneath could not
   take the whole rel: past PATH_MAX), as many whole components as fit in
   PATH_MAX, the last one never, opened in one openat2 as open_beneath
   opens a whole rel (O_PATH | O_DIRECTORY, no link followed, never
   above dirfd): the fd, *after past them and their '/'.  -1 when that
   would take fewer than two (a component empty, ".", "..", or longer
   than NAME_MAX stops them), or on any failure: the caller's loop then
   opens them one at a time, and gives its own errno.  A line of undo 5,000
   folders down: a few hundred calls instead of 10,000, still from
   dirfd, name by name, at the time of the call. */
static int open_way_beneath(int dirfd, const char *p, const char **after) {
  if (atomic_load_explicit(&nosys, memory_order_relaxed)) return -1;
  const char *stop = NULL;
  int comps = 0;
  for (const char *q = p;;) {
    const char *slash = strchr(q, '/');
    /* q is the last component (a trailing '/' too: the loop refuses it) */
    if (!slash || !slash[1]) break;
    size_t n = (size_t)(slash - q);
    if (n == 0 || n > NAME_MAX || (n == 1 && q[0] == '.') || (n == 2 && q[0] == '.' && q[1] == '.'))
      break;
    if ((size_t)(slash - p) >= PATH_MAX) break; /* with its NUL, within PATH_MAX */
    stop = slash;
    comps++;
    q = slash + 1;
  }
  if (comps < 2) return -1;
  char way[PATH_MAX];
  memcpy(way, p, (size_t)(stop - p));
  way[stop - p] = 0;
  struct pw_open_how how = {.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                            .resolve = PW_RESOLVE_NO_SYMLINKS | PW_RESOLVE_NO_MAGICLINKS |
                                       PW_RESOLVE_BENEATH};
  long fd = syscall(PW_SYS_OPENAT2, dirfd, way, &how, sizeof how);
  if (fd < 0 && (errno == ENOSYS || errno == EPERM || errno == E2BIG))
    atomic_store_explicit(&nosys, true, memory_order_relaxed);
  if (fd < 0) return -1;
  *after = stop + 1;
  return (int)fd;
}
#endif

int pw_target_at(int dirfd, const char *rel, pw_target *t, struct stat *now) {
  target_init(t);
#ifdef __linux__
  /* one system call instead of an open and a close per component (an
     entry 8 folders down: 2 instead of 18) */
  int direct = open_beneath(dirfd, rel);
  if (direct >= 0) {
    t->fd = direct;
    t->own = true;
    t->opath = true;
    return pw_target_stat(t, now);
  }
#endif
  int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return -errno;
  const char *p = strcmp(rel, ".") == 0 ? "" : rel;
  if (*p == '/' || (!*p && p == rel)) {
    close(fd);
    return -EINVAL;
  }
#ifdef __linux__
  bool ways = true;
#endif
  for (;;) {
    if (!*p) { /* the folder itself (rel "."), held like the folders on the way */
      t->fd = fd;
      t->own = true;
      t->opath = FOLDER_OPATH;
      break;
    }
#ifdef __linux__
    const char *rest;
    int way = ways ? open_way_beneath(fd, p, &rest) : -1;
    if (way >= 0) {
      close(fd);
      fd = way;
      p = rest;
      continue;
    }
    ways = false; /* (after a failure, one at a time: its errno, as before) */
#endif
    char comp[NAME_MAX + 1];
    const char *name = p;
    int n = component(p, comp, &p);
    if (n < 0) {
      close(fd);
      return n;
    }
    if (!*p) { /* the entry itself, a link reached as the link */
#ifdef __linux__
      t->fd = openat(fd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      int e = errno;
      close(fd);
      if (t->fd < 0) return -e;
      t->own = true;
      t->opath = true;
#else
      /* (name: NUL-terminated, the rest of rel) */
      int r = open_entry(fd, name, t, now);
      if (t->fd >= 0 || r) {
        close(fd);
        return r;
      }
      t->own_dirfd = true; /* reached by name: a device, a socket, a link */
      return 0;
#endif
      break;
    }
    (void)name;
    int next = openat(fd, comp, FOLDER_FLAGS);
    int e = errno;
    close(fd);
    if (next < 0) return -e;
    fd = next;
  }
  return pw_target_stat(t, now);
}

int pw_target_chown(const pw_target *t, uid_t uid, gid_t gid) {
  if (t->no_change) return -ENOTSUP;
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

bool pw_target_btime(const pw_target *t, int64_t *sec, uint32_t *nsec) {
#ifdef __linux__
  pw_statx_res sx;
  if (pw_statx(t->fd >= 0 ? t->fd : t->dirfd, t->fd >= 0 ? "" : t->name, PW_STATX_BTIME, &sx) ||
      !(sx.mask & PW_STATX_BTIME))
    return false;
  *sec = sx.btime_sec;
  *nsec = sx.btime_nsec;
  return true;
#elif defined(__APPLE__)
  struct stat st;
  int rc = t->fd >= 0 ? fstat(t->fd, &st) : fstatat(t->dirfd, t->name, &st, AT_SYMLINK_NOFOLLOW);
  if (rc) return false;
  *sec = (int64_t)st.st_birthtimespec.tv_sec;
  *nsec = (uint32_t)st.st_birthtimespec.tv_nsec;
  return true;
#else
  (void)t, (void)sec, (void)nsec;
  return false;
#endif
}

bool pw_target_on_overlayfs(const pw_target *t) {
  return pw_fd_on_overlayfs(t->fd >= 0 ? t->fd : t->dirfd);
}

#ifdef __linux__
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/xattr.h>

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

/* Whether /proc/self/fd is the kernel's (procfs), so that its links reach
   the very inodes of this process's descriptors.  In a chroot or container
   whose /proc is an ordinary folder a user may write, a planted
   self/fd/N link would lead root's chmod elsewhere: not used there.
   Looked at once. */
static bool procfs(void) {
  static atomic_int known; /* 0 unknown, 1 yes, 2 no */
  int k = atomic_load(&known);
  if (!k) {
    struct statfs s;
    k = statfs("/proc/self/fd", &s) == 0 && s.f_type == PROC_SUPER_MAGIC ? 1 : 2;
    atomic_store(&known, k);
  }
  return k == 1;
}

/* Attribute attr of the inode an O_PATH descriptor holds, through its
   /proc/self/fd link (-ENOENT without procfs there).  Size or -errno. */
static ssize_t opath_xattr(int fd, const char *attr, void *buf, size_t cap) {
  if (!procfs()) return -ENOENT;
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  ssize_t n = getxattr(p, attr, buf, cap);
  return n < 0 ? -errno : n;
}

/* getxattrat(2), Linux 6.13: the same number on x86_64 and aarch64 */
#define PW_SYS_GETXATTRAT 464
struct pw_xattr_args {
  uint64_t value; /* the buffer's address */
  uint32_t size;
  uint32_t flags;
};

/* Attribute attr of the entry named name in the folder dirfd, never
   through a link (getxattrat): for what no descriptor can read without
   /proc (a FIFO, a socket, a device: opening one has side effects or
   cannot be done).  -ENOSYS before Linux 6.13.  Size or -errno. */
static ssize_t named_xattr(int dirfd, const char *name, const char *attr, void *buf, size_t cap) {
  struct pw_xattr_args a = {(uint64_t)(uintptr_t)buf, cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap, 0};
  long n = syscall(PW_SYS_GETXATTRAT, dirfd, name, AT_SYMLINK_NOFOLLOW, attr, &a, sizeof a);
  return n < 0 ? -errno : n;
}

/* named_xattr, then the name looked at again: still the inode st (whose
   number a descriptor the caller holds keeps from going to another file),
   else -ESTALE. */
static ssize_t named_xattr_of(int dirfd, const char *name, const struct stat *st,
                              const char *attr, void *buf, size_t cap) {
  ssize_t n = named_xattr(dirfd, name, attr, buf, cap);
  struct stat again;
  if (n >= 0 && (fstatat(dirfd, name, &again, AT_SYMLINK_NOFOLLOW) ||
                 again.st_dev != st->st_dev || again.st_ino != st->st_ino))
    n = -ESTALE;
  return n;
}

ssize_t pw_entry_xattr(const pw_entry *e, const char *attr, void *buf, size_t cap) {
  ssize_t n;
  if (e->is_dir_row && e->selffd < 0) {
    /* a folder that could not be read: O_PATH, as its change would go */
    pw_target t;
    struct stat now;
    int rc = pw_target_entry(e, &t, &now);
    if (rc) {
      pw_target_close(&t);
      return rc < 0 ? rc : -EBADF;
    }
    n = opath_xattr(t.fd, attr, buf, cap);
    char *up = n == -ENOENT && !procfs() && e->name_off > 0 && e->name_off < e->len
                   ? malloc(e->name_off + 1)
                   : NULL;
    if (up) {
      /* no /proc: by name in the folder above (getxattrat; O_PATH, no
         read permission needed), the name checked after to be the inode
         the O_PATH descriptor holds (which keeps its number from going
         to another folder) */
      size_t ul = e->name_off > 1 ? e->name_off - 1 : 1; /* "/" kept for "/NAME" */
      memcpy(up, e->path, ul);
      up[ul] = 0;
      int pfd = pw_open_path(up, ul, O_PATH | O_DIRECTORY | O_CLOEXEC);
      free(up);
      if (pfd < 0) n = -errno;
      else {
        n = named_xattr_of(pfd, e->path + e->name_off, &now, attr, buf, cap);
        close(pfd);
      }
    }
    pw_target_close(&t);
    return n;
  }
  if (e->is_dir_row) {
    n = fgetxattr(e->selffd, attr, buf, cap);
    return n < 0 ? -errno : n;
  }
  /* the entry itself, by name inside its verified folder, never a link,
     checked to be the inode listed */
  int fd = openat(e->dirfd, e->path + e->name_off, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat now;
  if (fstat(fd, &now) || !pw_same_entry(&now, e->st)) {
    close(fd);
    return -ESTALE;
  }
  n = opath_xattr(fd, attr, buf, cap);
  int err = n < 0 ? (int)-n : 0;
  bool by_name = err == ENOENT && !procfs();
  if (err == ENOENT && S_ISREG(now.st_mode)) {
    /* no /proc: a descriptor that can read attributes (a regular file:
       opening it has no side effect), checked again */
    int rfd = openat(e->dirfd, e->path + e->name_off,
                     O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat again;
    if (rfd < 0) err = errno;
    else if (fstat(rfd, &again) || !pw_same_entry(&again, e->st)) err = ESTALE;
    else {
      n = fgetxattr(rfd, attr, buf, cap);
      err = n < 0 ? errno : 0;
    }
    if (rfd >= 0) close(rfd);
    /* a file the caller may not read (its owner's 0200 file): its
       attributes are still the owner's to read, by name */
    by_name = by_name && rfd < 0 && (err == EACCES || err == EPERM);
  }
  if (by_name) {
    /* no /proc, and no descriptor to read through: by name inside the
       verified folder (the O_PATH descriptor held keeps its inode number
       from going to another file), and the name checked again after: it
       must still be the inode listed */
    n = named_xattr_of(e->dirfd, e->path + e->name_off, &now, attr, buf, cap);
    err = n < 0 ? (int)-n : 0;
  }
  close(fd);
  return err ? -err : n;
}

ssize_t pw_target_xattr_named(const pw_target *t, int rootfd, const char *rel,
                              const struct stat *st, const char *attr, void *buf, size_t cap) {
  ssize_t n = pw_target_xattr(t, NULL, attr, buf, cap);
  const char *slash = strrchr(rel, '/');
  if (n != -ENOENT || procfs() || !strcmp(rel, ".")) return n;
  /* no /proc: the folder above, reached as t was, then the name in it,
     checked after to be the inode t holds (which keeps its number) */
  char *up = slash ? strndup(rel, (size_t)(slash - rel)) : strdup(".");
  if (!up) return -ENOMEM;
  pw_target pt;
  struct stat pst;
  int rc = pw_target_at(rootfd, up, &pt, &pst);
  free(up);
  if (rc) n = rc < 0 ? rc : -ESTALE;
  else n = named_xattr_of(pt.fd, slash ? slash + 1 : rel, st, attr, buf, cap);
  pw_target_close(&pt);
  return n;
}

ssize_t pw_entry_xattr_peek(const pw_entry *e, const char *attr, void *buf, size_t cap) {
  static atomic_bool nosys; /* no getxattrat here: before Linux 6.13 */
  if (e->is_dir_row || atomic_load_explicit(&nosys, memory_order_relaxed))
    return pw_entry_xattr(e, attr, buf, cap);
  const char *name = e->path + e->name_off;
  ssize_t n = named_xattr(e->dirfd, name, attr, buf, cap);
  if (n == -ENOSYS) atomic_store_explicit(&nosys, true, memory_order_relaxed);
  /* the usual answers (gone: -ENOENT, as pw_entry_xattr's open says);
     any other (a sandbox's EPERM for a system call it does not know,
     EACCES) the way pw_entry_xattr finds it */
  if (n < 0 && n != -ENODATA && n != -ENOTSUP && n != -ERANGE && n != -ENOENT)
    return pw_entry_xattr(e, attr, buf, cap);
  return n;
}

ssize_t pw_target_xattr(const pw_target *t, const pw_entry *e, const char *attr, void *buf,
                        size_t cap) {
  ssize_t n;
  if (!t->opath) {
    n = t->fd >= 0 ? fgetxattr(t->fd, attr, buf, cap) : -1;
    return t->fd < 0 ? -EBADF : n < 0 ? -errno : n;
  }
  n = opath_xattr(t->fd, attr, buf, cap);
  /* no /proc: by name inside the verified folder, checked again (with
     the walk's entry; without one, -ENOENT) */
  return n == -ENOENT && e ? pw_entry_xattr(e, attr, buf, cap) : n;
}
#else
ssize_t pw_target_xattr(const pw_target *t, const pw_entry *e, const char *attr, void *buf,
                        size_t cap) {
  (void)t;
  return pw_entry_xattr(e, attr, buf, cap);
}
ssize_t pw_entry_xattr(const pw_entry *e, const char *attr, void *buf, size_t cap) {
  (void)e, (void)attr, (void)buf, (void)cap;
  return -ENOTSUP;
}
ssize_t pw_entry_xattr_peek(const pw_entry *e, const char *attr, void *buf, size_t cap) {
  return pw_entry_xattr(e, attr, buf, cap);
}
ssize_t pw_target_xattr_named(const pw_target *t, int rootfd, const char *rel,
                              const struct stat *st, const char *attr, void *buf, size_t cap) {
  (void)rootfd, (void)rel, (void)st;
  return pw_target_xattr(t, NULL, attr, buf, cap);
}
#endif

#ifdef __linux__
#include <sys/syscall.h>
/* fchmodat2(2), Linux 6.6: the same number on x86_64 and aarch64 */
#define PW_SYS_FCHMODAT2 452

PW_API int32_t pw_can_change_modes(void) { return pw_can_chmod_opath(); }

bool pw_can_chmod_opath(void) {
  int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return true; /* nothing to learn here: let the change say */
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  bool ok = procfs() && faccessat(AT_FDCWD, p, F_OK, 0) == 0;
  close(fd);
  /* an fd of -1: EBADF where the call exists, ENOSYS where it does not */
  if (!ok) ok = syscall(PW_SYS_FCHMODAT2, -1, "", 0, AT_EMPTY_PATH) != 0 && errno == EBADF;
  return ok;
}
#else
PW_API int32_t pw_can_change_modes(void) { return 1; }
bool pw_can_chmod_opath(void) { return true; }
#endif

int pw_target_chmod(const pw_target *t, mode_t mode) {
  if (t->no_change) return -ENOTSUP;
  int rc;
#ifdef __linux__
  if (t->opath) {
    /* fchmod refuses O_PATH fds; the fd's /proc link reaches the very inode. */
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", t->fd);
    rc = -1;
    errno = ENOENT;
    if (procfs()) rc = fchmodat(AT_FDCWD, p, mode, 0);
    /* No procfs at /proc (a container, a chroot): fchmodat2 (Linux 6.6)
       takes the fd itself.  Before it, there is no safe way: say what is
       missing. */
    if (rc && errno == ENOENT) {
      rc = (int)syscall(PW_SYS_FCHMODAT2, t->fd, "", mode, AT_EMPTY_PATH);
    }
  } else
#endif
      if (t->fd >= 0) rc = fchmod(t->fd, mode);
  else rc = fchmodat(t->dirfd, t->name, mode, AT_SYMLINK_NOFOLLOW);
  return rc ? -errno : 0;
}

int pw_target_chmod_readback(const pw_target *t, mode_t set, mode_t added, uid_t uid, gid_t gid,
                             struct stat *st) {
  int rc = pw_target_stat(t, st);
  if (rc) return rc;
  /* A file's setuid bit, and its setgid bit with group execute, were
     taken off by a change of owner or group (the kernel's rule for a
     chown) that came before the chmod, which, to a mode with them, set
     them again: the caller's look, before that change, saw them as the
     entry's own (a chmod that only takes bits off, too).  Taken off with
     the bits added (after the chmod, the change took them off itself:
     not there). */
  mode_t off = added;
  if (!S_ISDIR(st->st_mode)) off |= set & (S_ISUID | ((set & S_IXGRP) ? S_ISGID : 0));
  if (!off || (st->st_uid == uid && st->st_gid == gid)) return 0;
  mode_t m = st->st_mode & 07777;
  if ((m & off) && pw_target_chmod(t, m & ~off) == 0) {
    struct stat again;
    if (pw_target_stat(t, &again) == 0) *st = again;
    else st->st_mode &= ~off;
  }
  return 1;
}

void pw_target_close(pw_target *t) {
  if (t->own && t->fd >= 0) close(t->fd);
  if (t->own_dirfd && t->dirfd >= 0) close(t->dirfd);
  target_init(t);
}
