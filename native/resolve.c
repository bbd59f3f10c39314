/* resolve.c — see resolve.h. */
#define _GNU_SOURCE
#include "resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/vfs.h>
#define PW_PROC_SUPER_MAGIC 0x9fa0
#endif

#ifdef __linux__
#define PW_DIR_FLAGS (O_PATH | O_DIRECTORY | O_CLOEXEC)
#else
#define PW_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC)
#endif
/* As the kernel's limit on links followed in one lookup (MAXSYMLINKS). */
#define PW_MAX_LINKS 40

/* Read the link name in folder dir into buf, and its owner into st: on Linux
   through a descriptor of the link itself, so that the owner checked is
   that of the link whose target is read (-EAGAIN: no longer a link). */
static int read_link(int dir, const char *name, struct stat *st, char *buf, size_t cap) {
  ssize_t n = 0;
  int e = 0;
#ifdef __linux__
  int fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  if (fstat(fd, st)) e = errno;
  else if (!S_ISLNK(st->st_mode)) e = EAGAIN;
  else if ((n = readlinkat(fd, "", buf, cap)) < 0) e = errno;
  close(fd);
#else
  if (fstatat(dir, name, st, AT_SYMLINK_NOFOLLOW)) return -errno;
  if (!S_ISLNK(st->st_mode)) return -EAGAIN;
  if ((n = readlinkat(dir, name, buf, cap)) < 0) e = errno;
#endif
  if (e) return -e;
  if ((size_t)n >= cap) return -ENAMETOOLONG;
  buf[n] = 0;
  return 0;
}

/* Whether the kernel's fs.protected_symlinks refuses to follow, for this
   process, a link owned by uid in the folder whose stat is dir. */
static bool protected_link(uid_t uid, const struct stat *dir) {
  return (dir->st_mode & (S_ISVTX | S_IWOTH)) == (S_ISVTX | S_IWOTH) && uid != geteuid() &&
         uid != dir->st_uid;
}

/* cur for "/": not opened, its names looked up as "/name" (dir_fd,
   in_dir).  Under qemu-user -L (another architecture's library, as the
   tests run it) open("/") gives the emulated system's root instead, while
   "/tmp" stays /tmp; for the kernel the two are the same. */
#define PW_ROOT (-2)

static int dir_fd(int cur) { return cur == PW_ROOT ? AT_FDCWD : cur; }

/* comp as looked up in cur: "/comp" (in buf, of PATH_MAX bytes) at the root. */
static const char *in_dir(int cur, const char *comp, char *buf) {
  if (cur != PW_ROOT) return comp;
  snprintf(buf, PATH_MAX, "/%s", comp);
  return buf;
}

/* Whether the folder dir is in /proc, whose links the kernel follows by
   what they lead to, not by their text: /proc/PID/root of a process in
   another mount namespace reads "/" but leads to that namespace's root;
   /proc/self/fd/1 reads "pipe:[1234]". */
static bool on_proc(int dir) {
#ifdef __linux__
  struct statfs fs;
  return dir != PW_ROOT && !fstatfs(dir, &fs) && fs.f_type == PW_PROC_SUPER_MAGIC;
#else
  (void)dir;
  return false;
#endif
}

/* Whether name in dir, the last name of a path, is a link of /proc that
   leads to a pipe, FIFO, socket or device (a descriptor's: /dev/fd/1): the
   kernel follows it, its text names no file. */
static bool proc_device(int dir, const char *name) {
  struct stat st;
  return on_proc(dir) && !fstatat(dir, name, &st, 0) &&
         (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ||
          S_ISSOCK(st.st_mode));
}

int pw_resolve(const char *path, pw_resolved *out, char *msg, size_t msgcap) {
  out->dirfd = -1;
  out->leaf = NULL;
  out->follow = 0;
  if (msgcap) *msg = 0;
  /* rest: the path still to walk from pos; rest[0..pos) is the path of the
     folder cur as written (links spliced in), for messages. */
  char *rest = strdup(path), *leaf = NULL;
  char *target = malloc(PATH_MAX), *named = malloc(PATH_MAX);
  int cur = -1, r = 0, links = 0;
  bool via_link = false; /* the last name came from a link's target */
  bool proc_last = false; /* ... of a /proc link: the file must be the one the kernel finds */
  struct stat proc_file;
  size_t pos = 0, via_end = 0; /* rest[0..via_end): names that came from a link's target */
  if (!rest || !target || !named) {
    r = -ENOMEM;
    goto done;
  }
  if (path[0] == '/') cur = PW_ROOT;
  else if ((cur = open(".", PW_DIR_FLAGS)) < 0) {
    r = -errno;
    goto done;
  }
  for (;;) {
    while (rest[pos] == '/') pos++;
    if (!rest[pos]) { /* "/", or a name ending in "/": the folder itself */
      leaf = strdup(".");
      if (!leaf) r = -ENOMEM;
      break;
    }
    size_t start = pos, end = pos;
    while (rest[end] && rest[end] != '/') end++;
    bool last = !rest[end];
    char save = rest[end];
    rest[end] = 0;
    const char *comp = rest + start;
    struct stat st;
    if (!strcmp(comp, ".") || !strcmp(comp, "..")) {
      if (comp[1] && cur != PW_ROOT) { /* "..": physically, as the kernel ("/.." is "/") */
        int up = openat(cur, "..", PW_DIR_FLAGS);
        if (up < 0) {
          r = -errno;
          break;
        }
        close(cur);
        cur = up;
      }
      rest[end] = save;
      pos = end;
      continue;
    }
    if (end - start >= PATH_MAX - 1) {
      r = -ENAMETOOLONG;
      break;
    }
    const char *name = in_dir(cur, comp, named);
    if (fstatat(dir_fd(cur), name, &st, AT_SYMLINK_NOFOLLOW)) {
      r = -errno;
      if (r == -ENOENT && last && via_link) {
        snprintf(msg, msgcap, "output %s is a symbolic link to a missing file: not written", path);
      } else if (r == -ENOENT && last) { /* a new file */
        r = 0;
        if (!(leaf = strdup(comp))) r = -ENOMEM;
      }
      break;
    }
    if (S_ISLNK(st.st_mode) && last && proc_device(cur, comp)) {
      out->follow = 1;
      if (!(leaf = strdup(comp))) r = -ENOMEM;
      break;
    }
    if (S_ISLNK(st.st_mode) && !last && on_proc(cur)) {
      /* a folder of /proc's (/proc/PID/root, /proc/PID/cwd): followed by
         the kernel, the path's text kept for messages */
      int sub = openat(cur, comp, PW_DIR_FLAGS);
      if (sub < 0) {
        r = -errno;
        break;
      }
      close(cur);
      cur = sub;
      rest[end] = save;
      pos = end;
      continue;
    }
    if (S_ISLNK(st.st_mode) && last && on_proc(cur)) {
      /* a file of /proc's (/proc/PID/fd/N): followed by its text, which
         must then lead to the file the kernel finds */
      if (fstatat(cur, comp, &proc_file, 0)) {
        r = -errno;
        break;
      }
      proc_last = true;
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > PW_MAX_LINKS) {
        r = -ELOOP;
        break;
      }
      r = read_link(dir_fd(cur), name, &st, target, PATH_MAX);
      if (r == -EAGAIN) { /* replaced since the fstatat: looked at again */
        r = 0;
        rest[end] = save;
        continue;
      }
      struct stat dir;
      if (!r && (cur == PW_ROOT ? stat("/", &dir) : fstat(cur, &dir))) r = -errno;
      if (r) break;
      if (protected_link(st.st_uid, &dir)) {
        /* in lib/outfile.ts linksFollowable's words */
        bool via = start < via_end, given = !via && last; /* the name as given */
        int dlen = start > 1 ? (int)start - 1 : (int)start; /* without its last "/" */
        snprintf(msg, msgcap,
                 "%s: not followed: %s%.*s%s owned by uid %lu in %.*s, a sticky folder others can "
                 "write, which the kernel's protected_symlinks refuses to follow (write to its "
                 "target's name instead)",
                 path, given ? "a link" : "the link ", given ? 0 : (int)end, rest,
                 given ? "" : via ? " it leads to" : " in its path", (unsigned long)st.st_uid,
                 dlen ? dlen : 1, dlen ? rest : ".");
        r = -EACCES;
        break;
      }
      /* The target spliced in where the link was: rest[0..start) + target
         + what followed the link (from the root again for an absolute one). */
      rest[end] = save;
      bool abs = target[0] == '/';
      size_t keep = abs ? 0 : start, tl = strlen(target), after = strlen(rest + end);
      char *next = malloc(keep + tl + after + 1);
      if (!next) {
        r = -ENOMEM;
        break;
      }
      memcpy(next, rest, keep);
      memcpy(next + keep, target, tl);
      memcpy(next + keep + tl, rest + end, after + 1);
      via_end = keep + tl + (via_end > end ? via_end - end : 0);
      free(rest);
      rest = next;
      pos = keep;
      if (last) via_link = true;
      if (abs) {
        if (cur >= 0) close(cur);
        cur = PW_ROOT;
      }
      continue;
    }
    if (last) {
      if (!(leaf = strdup(comp))) r = -ENOMEM;
      break;
    }
    if (!S_ISDIR(st.st_mode)) {
      r = -ENOTDIR;
      break;
    }
    int sub = openat(dir_fd(cur), name, PW_DIR_FLAGS | O_NOFOLLOW);
    if (sub < 0) {
      r = -errno;
      /* made a link since the fstatat: looked at again (counted as one) */
      if ((r == -ENOTDIR || r == -ELOOP) && ++links <= PW_MAX_LINKS) {
        r = 0;
        rest[end] = save;
        continue;
      }
      break;
    }
    if (cur >= 0) close(cur);
    cur = sub;
    rest[end] = save;
    pos = end;
  }
done:
  free(rest);
  free(target);
  free(named);
  /* a name in "/" itself: the folder opened now (its descriptor is what the caller uses) */
  if (!r && cur == PW_ROOT && (cur = open("/", PW_DIR_FLAGS)) < 0) r = -errno;
  struct stat found;
  if (!r && proc_last &&
      (fstatat(cur, leaf, &found, AT_SYMLINK_NOFOLLOW) || found.st_dev != proc_file.st_dev ||
       found.st_ino != proc_file.st_ino)) {
    snprintf(msg, msgcap,
             "cannot write %s: a link of /proc whose text names another file than the one it "
             "leads to (another mount namespace's, or one deleted): not written", path);
    r = -EXDEV;
  }
  if (r) {
    free(leaf);
    if (cur >= 0) close(cur);
    return r;
  }
  out->dirfd = cur;
  out->leaf = leaf;
  return 0;
}

void pw_resolved_free(pw_resolved *r) {
  if (r->dirfd >= 0) close(r->dirfd);
  free(r->leaf);
  r->dirfd = -1;
  r->leaf = NULL;
}
