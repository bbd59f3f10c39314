/*
 * dir.h — reading folders: opening by a path of any length, and listing a
 * folder's names through its file descriptor.
 *
 * Owns: the getdents64 wrapper on Linux (one syscall returns a buffer of
 * many names) with a readdir fallback elsewhere, and pw_open_path, which
 * opens paths longer than PATH_MAX by walking them in chunks with openat.
 */
#ifndef PW_DIR_H
#define PW_DIR_H

#include <stddef.h>
#include <stdint.h>

/** A listing in progress.  Embedded in a worker; reused folder after folder. */
typedef struct pw_dirstream {
  int fd;         /**< the folder's fd (owned by the caller on Linux) */
  char *buf;      /**< getdents64 buffer (Linux) */
  size_t cap;     /**< its size */
  long len, pos;  /**< bytes filled, read position */
  void *dir;      /**< DIR* (fallback), owns a dup of fd */
} pw_dirstream;

/** Allocate the listing buffer once per worker; returns 0 or -ENOMEM. */
int pw_dirstream_init(pw_dirstream *d, size_t cap);
void pw_dirstream_fini(pw_dirstream *d);
/** Start listing the folder open at fd (the fd stays the caller's). */
int pw_dir_begin(pw_dirstream *d, int fd);
/**
 * Next name, skipping "." and "..": returns the NUL-terminated name and
 * stores its length, or NULL at the end (*err = 0) or on error (*err = errno).
 */
const char *pw_dir_next(pw_dirstream *d, size_t *len, int *err);
void pw_dir_end(pw_dirstream *d);

/**
 * openat(AT_FDCWD, path, flags) for a path of any length: paths longer than
 * PATH_MAX are opened chunk by chunk, each chunk relative to the last.
 * path must be NUL-terminated at path[len].  Returns an fd or -1 with errno.
 */
int pw_open_path(const char *path, size_t len, int flags);

#endif
