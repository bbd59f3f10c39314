/*
 * dir.h — reading folders: opening one by a path of any length, listing it
 * through its file descriptor, and the stat of each listed name.
 *
 * Owns: the getdents64 wrapper on Linux (one syscall returns a buffer of
 * many names) with a readdir fallback elsewhere, the per-name stat (the
 * one place a second I/O method, such as batched statx through io_uring,
 * would go), and pw_open_path, which opens paths longer than PATH_MAX by
 * walking them in chunks with openat.
 */
#ifndef PW_DIR_H
#define PW_DIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/** A listed name.  Valid until the next pw_dir_next. */
typedef struct pw_dent {
  const char *name;    /**< NUL-terminated */
  size_t len;          /**< strlen(name) */
  unsigned char type;  /**< DT_* from the listing (DT_UNKNOWN when the file
                            system does not say) */
  uint64_t ino;        /**< d_ino from the listing */
} pw_dent;

/** A listing in progress.  Embedded in a worker; reused folder after folder. */
typedef struct pw_dirstream {
  int fd;         /**< the folder's fd (owned by the caller) */
  char *buf;      /**< getdents64 buffer (Linux) */
  size_t cap;     /**< its size */
  long len, pos;  /**< bytes filled, read position */
  void *dir;      /**< DIR* (fallback), owns a dup of fd */
  pw_dent cur;    /**< the name pw_dir_next returned last */
} pw_dirstream;

/**
 * Names split off a listing (pw_split_records) for another worker to stat: raw
 * getdents64 records, iterated by pw_dirpart_next.
 */
typedef struct pw_dirpart {
  char *buf;      /**< the records (owned by whoever holds the part) */
  long len, pos;  /**< bytes, read position */
  pw_dent cur;    /**< the name pw_dirpart_next returned last */
} pw_dirpart;

/** Allocate the listing buffer once per worker; returns 0 or -ENOMEM. */
int pw_dirstream_init(pw_dirstream *d);
void pw_dirstream_fini(pw_dirstream *d);
/** Start listing the folder open at fd (the fd stays the caller's): 0, or
    -errno (elsewhere than Linux: no descriptor or DIR for the listing). */
int pw_dir_begin(pw_dirstream *d, int fd);
/**
 * Next name, skipping "." and "..", or NULL at the end (*err = 0) or on
 * error (*err = errno).
 */
const pw_dent *pw_dir_next(pw_dirstream *d, int *err);
void pw_dir_end(pw_dirstream *d);

/**
 * Whether the listing begun at d is of the folder with inode ino, told by
 * the "." entry of its first chunk (read now if need be; nothing more is
 * asked of the kernel): 1 yes, 0 another folder, -1 cannot tell ("." not
 * in the first chunk, a read error, or no getdents64): ask fstat.
 */
int pw_dir_is(pw_dirstream *d, uint64_t ino);

/**
 * Move the second half of the names in the getdents64 records buf[pos,
 * *len) (a listing's names read but not yet returned, pw_dirstream's
 * buf/pos/len, or a part's) into a new buffer for another worker, when at
 * least min names are there: *out is malloc'd, *outlen its bytes, *len
 * cut to what is left.  Returns the names moved, 0 when there are too few,
 * there is no getdents64, or no memory (then nothing moved).
 */
size_t pw_split_records(const char *buf, long pos, long *len, size_t min, char **out,
                        long *outlen);
/** Next name of a part (skipping "." and ".."), or NULL at its end. */
const pw_dent *pw_dirpart_next(pw_dirpart *p);
/** Stat names relative to fd (a part's folder) without listing it. */
static inline void pw_dir_at(pw_dirstream *d, int fd) {
  d->fd = fd;
  d->len = d->pos = 0;
}

/** lstat of a listed name (never follows a link): 0 or an errno. */
int pw_dir_stat(pw_dirstream *d, const pw_dent *e, struct stat *st);
/** stat of what a listed link points to: 0 or an errno (st untouched then). */
int pw_dir_stat_target(pw_dirstream *d, const pw_dent *e, struct stat *st);

/**
 * openat(AT_FDCWD, path, flags) for a path of any length: paths longer than
 * PATH_MAX are opened chunk by chunk, each chunk relative to the last.
 * path must be NUL-terminated at path[len].  Returns an fd or -1 with errno.
 */
int pw_open_path(const char *path, size_t len, int flags);

/**
 * Open the folder at an absolute path one component at a time, each with
 * O_NOFOLLOW: a symbolic link anywhere on the way fails it (ELOOP or
 * ENOTDIR), so the folder opened is the one at this path, not one a link
 * leads to.  Returns an fd or -1 with errno.
 */
int pw_open_nofollow(const char *path);

/**
 * The folder holding the last component of rel (len bytes: names joined by
 * '/', none empty, "." or ".."), reached from dirfd one component at a
 * time, each with O_NOFOLLOW: no link on the way is followed, and the
 * length of rel is not bounded by PATH_MAX.  With dev, each folder opened
 * on the way must be on that device (-x: a mount on the way leaves the
 * file system).  Returns an fd to close (a dup of dirfd when rel is one
 * name) with *last at rel's last name, or -1 with errno (ELOOP/ENOTDIR: a
 * link or a non-folder on the way; EXDEV: a folder on the way on another
 * device than *dev).
 */
int pw_open_parent_below(int dirfd, const char *rel, size_t len, const char **last,
                         const dev_t *dev);

/** Called by pw_open_parent_below_each for each folder it opens on the way
    (fd, and its fstat): 0 goes on, an errno stops the way there with it. */
typedef int (*pw_way_fn)(void *arg, int fd, const struct stat *st);

/**
 * pw_open_parent_below, calling each(arg, fd, st) for every folder it opens
 * on the way below dirfd (not dirfd itself; after the device check): a
 * shard notes the folders above its frontier folder, as a whole run's walk
 * has them above it.
 */
int pw_open_parent_below_each(int dirfd, const char *rel, size_t len, const char **last,
                              const dev_t *dev, pw_way_fn each, void *arg);

#endif
