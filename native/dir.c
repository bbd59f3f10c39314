/* dir.c — see dir.h. */
#define _GNU_SOURCE
#include "dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/stat.h>
#include <sys/syscall.h>
struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};
#endif

#include "pwalk.h"

/* getdents64 buffer per worker. */
#define PW_DENTS_BYTES (64 * 1024)

int pw_dirstream_init(pw_dirstream *d) {
  memset(d, 0, sizeof *d);
  d->fd = -1;
#ifdef __linux__
  d->buf = malloc(PW_DENTS_BYTES);
  if (!d->buf) return -ENOMEM;
  d->cap = PW_DENTS_BYTES;
#endif
  return 0;
}

void pw_dirstream_fini(pw_dirstream *d) {
  pw_dir_end(d);
  free(d->buf);
  d->buf = NULL;
}

static int is_dot_or_dotdot(const char *n) {
  return n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0));
}

int pw_dir_begin(pw_dirstream *d, int fd) {
  d->fd = fd;
  d->len = d->pos = 0;
#ifndef __linux__
  int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dupfd < 0) return -errno;
  DIR *dir = fdopendir(dupfd);
  if (!dir) {
    int e = errno;
    close(dupfd);
    return -e;
  }
  d->dir = dir;
#endif
  return 0;
}

#ifdef __linux__
/* The next record of buf[*pos, len) that is not . or .., into *cur; NULL
   at the end (a folder's stream and a shared part read records alike). */
static inline const pw_dent *next_record(char *buf, long *pos, long len, pw_dent *cur) {
  while (*pos < len) {
    struct linux_dirent64 *e = (struct linux_dirent64 *)(buf + *pos);
    *pos += e->d_reclen;
    if (is_dot_or_dotdot(e->d_name)) continue;
    *cur = (pw_dent){e->d_name, strlen(e->d_name), e->d_type, e->d_ino};
    return cur;
  }
  return NULL;
}
#endif

const pw_dent *pw_dir_next(pw_dirstream *d, int *err) {
  *err = 0;
#ifdef __linux__
  for (;;) {
    const pw_dent *r = next_record(d->buf, &d->pos, d->len, &d->cur);
    if (r) return r;
    long n = syscall(SYS_getdents64, d->fd, d->buf, d->cap);
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      return NULL;
    }
    if (n == 0) return NULL;
    d->len = n;
    d->pos = 0;
  }
#else
  for (;;) {
    errno = 0;
    struct dirent *e = readdir((DIR *)d->dir);
    if (!e) {
      *err = errno;
      return NULL;
    }
    if (is_dot_or_dotdot(e->d_name)) continue;
    d->cur = (pw_dent){e->d_name, strlen(e->d_name), e->d_type, (uint64_t)e->d_ino};
    return &d->cur;
  }
#endif
}

size_t pw_split_records(const char *buf, long pos, long *len, size_t min, char **out,
                        long *outlen) {
#ifdef __linux__
  size_t names = 0;
  for (long p = pos; p < *len; p += ((const struct linux_dirent64 *)(buf + p))->d_reclen)
    if (!is_dot_or_dotdot(((const struct linux_dirent64 *)(buf + p))->d_name)) names++;
  if (names < min || names < 2) return 0;
  size_t keep = names - names / 2, seen = 0;
  long cut = pos;
  while (cut < *len) {
    const struct linux_dirent64 *e = (const struct linux_dirent64 *)(buf + cut);
    if (!is_dot_or_dotdot(e->d_name) && seen++ == keep) break;
    cut += e->d_reclen;
  }
  char *b = malloc((size_t)(*len - cut));
  if (!b) return 0;
  memcpy(b, buf + cut, (size_t)(*len - cut));
  *out = b;
  *outlen = *len - cut;
  *len = cut;
  return names - keep;
#else
  (void)buf, (void)pos, (void)len, (void)min, (void)out, (void)outlen;
  return 0;
#endif
}

const pw_dent *pw_dirpart_next(pw_dirpart *p) {
#ifdef __linux__
  return next_record(p->buf, &p->pos, p->len, &p->cur);
#else
  (void)p;
  return NULL;
#endif
}

int pw_dir_is(pw_dirstream *d, uint64_t ino) {
#ifdef __linux__
  if (d->pos == 0 && d->len == 0) {
    long n;
    do n = syscall(SYS_getdents64, d->fd, d->buf, d->cap);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return -1; /* pw_dir_next reads again and reports it */
    d->len = n;
  }
  for (long pos = 0; pos < d->len;) {
    struct linux_dirent64 *e = (struct linux_dirent64 *)(d->buf + pos);
    if (e->d_name[0] == '.' && e->d_name[1] == 0) return e->d_ino == ino;
    pos += e->d_reclen;
  }
#else
  (void)d;
  (void)ino;
#endif
  return -1;
}

int pw_dir_stat(pw_dirstream *d, const pw_dent *e, struct stat *st) {
  return fstatat(d->fd, e->name, st, AT_SYMLINK_NOFOLLOW) ? errno : 0;
}

int pw_dir_stat_target(pw_dirstream *d, const pw_dent *e, struct stat *st) {
  struct stat t;
  if (fstatat(d->fd, e->name, &t, 0)) return errno;
  *st = t;
  return 0;
}

void pw_dir_end(pw_dirstream *d) {
#ifndef __linux__
  if (d->dir) closedir((DIR *)d->dir);
  d->dir = NULL;
#endif
  d->fd = -1;
}

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#ifndef NAME_MAX
#define NAME_MAX 255
#endif

int pw_open_nofollow(const char *path) {
  if (path[0] != '/') {
    errno = EINVAL;
    return -1;
  }
  /* O_PATH: no read permission needed on the way (a 0711 /home, root on
     NFS with root_squash), only search, as for any path lookup. */
#if defined(O_PATH)
  const int flags = O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
#elif defined(O_SEARCH)
  const int flags = O_SEARCH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
#else
  const int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
#endif
  int fd = open("/", flags);
  char name[NAME_MAX + 1];
  for (const char *p = path; fd >= 0;) {
    while (*p == '/') p++;
    if (!*p) break;
    size_t n = strcspn(p, "/");
    if (n > NAME_MAX) {
      close(fd);
      errno = ENAMETOOLONG;
      return -1;
    }
    memcpy(name, p, n);
    name[n] = 0;
    p += n;
    if (!strcmp(name, ".") || !strcmp(name, "..")) { /* not a real path */
      close(fd);
      errno = EINVAL;
      return -1;
    }
    int next = openat(fd, name, flags);
    int e = errno;
    close(fd);
    errno = e;
    fd = next;
  }
  return fd;
}

int pw_open_path(const char *path, size_t len, int flags) {
  if (len < PATH_MAX) return openat(AT_FDCWD, path, flags);
  /* Walk the path in chunks shorter than PATH_MAX, each split at a '/'. */
  char *tmp = malloc(len + 1);
  if (!tmp) {
    errno = ENOMEM;
    return -1;
  }
  memcpy(tmp, path, len + 1);
  int dirfd = AT_FDCWD;
  size_t start = 0;
  int fd = -1;
  for (;;) {
    size_t rest = len - start;
    if (rest < PATH_MAX) {
      fd = openat(dirfd, tmp + start, flags);
      break;
    }
    size_t cut = start + PATH_MAX - 1;
    while (cut > start && tmp[cut] != '/') cut--;
    if (cut == start) { /* one component longer than PATH_MAX */
      errno = ENAMETOOLONG;
      break;
    }
    tmp[cut] = 0;
    int next = openat(dirfd, cut == 0 ? "/" : tmp + start,
                      O_RDONLY | O_DIRECTORY | O_CLOEXEC | (flags & O_NOFOLLOW));
    tmp[cut] = '/';
    if (dirfd != AT_FDCWD) close(dirfd);
    dirfd = next;
    if (dirfd < 0) break;
    start = cut + 1;
    while (start < len && tmp[start] == '/') start++;
  }
  int e = errno;
  if (dirfd >= 0 && dirfd != AT_FDCWD) close(dirfd);
  free(tmp);
  errno = e;
  return fd;
}

int pw_open_parent_below(int dirfd, const char *rel, size_t len, const char **last,
                         const dev_t *dev) {
  return pw_open_parent_below_each(dirfd, rel, len, last, dev, NULL, NULL);
}

int pw_open_parent_below_each(int dirfd, const char *rel, size_t len, const char **last,
                              const dev_t *dev, pw_way_fn each, void *arg) {
  int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  size_t start = 0;
  for (;;) {
    if (fd < 0) return -1;
    const char *slash = memchr(rel + start, '/', len - start);
    size_t n = slash ? (size_t)(slash - (rel + start)) : len - start;
    if (!n || n > NAME_MAX || (n == 1 && rel[start] == '.') ||
        (n == 2 && rel[start] == '.' && rel[start + 1] == '.')) {
      close(fd);
      errno = n > NAME_MAX ? ENAMETOOLONG : EINVAL;
      return -1;
    }
    if (!slash) {
      *last = rel + start;
      return fd;
    }
    char name[NAME_MAX + 1];
    memcpy(name, rel + start, n);
    name[n] = 0;
    int next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    if (next >= 0 && (dev || each)) {
      struct stat st;
      int bad = fstat(next, &st) ? errno : dev && st.st_dev != *dev ? EXDEV : 0;
      if (!bad && each) bad = each(arg, next, &st);
      if (bad) {
        close(next);
        next = -1;
        e = bad;
      }
    }
    close(fd);
    errno = e;
    fd = next;
    start += n + 1;
  }
}

PW_API int32_t pw_dir_probe(const uint8_t *path, size_t len) {
  if (!path || !len || memchr(path, 0, len)) return -EINVAL;
  char *p = malloc(len + 1);
  if (!p) return -ENOMEM;
  memcpy(p, path, len);
  p[len] = 0;
  int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* as the walker opens a root */
  int r = fd < 0 ? -errno : 0;
  free(p);
  if (fd < 0) return r;
  pw_dirstream d;
  if (!(r = pw_dirstream_init(&d)) && !(r = pw_dir_begin(&d, fd))) {
    int err;
    if (!pw_dir_next(&d, &err) && err) r = -err;
  }
  pw_dirstream_fini(&d);
  close(fd);
  return r;
}
