/*
 * fdops.h — changing an entry's owner, group and mode through descriptors
 * that cannot lead elsewhere: what repair (repair.c) and undo (undo.c)
 * share.
 *
 * Owns: reaching the entry to change (inside a verified folder by name, or
 * from `/` component by component, never following a link), checking it is
 * still the entry that was examined (device, inode, type), and the
 * chown/chmod/stat calls on it.  On Linux the entry is held by an O_PATH
 * descriptor (fchownat(fd, "", AT_EMPTY_PATH) and the mode through
 * /proc/self/fd/N); elsewhere, by its verified folder and name with
 * AT_SYMLINK_NOFOLLOW.
 */
#ifndef PW_FDOPS_H
#define PW_FDOPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "entry.h"

/** Where to make the changes of one entry. */
typedef struct pw_target {
  int fd;           /**< fd of the entry (a folder's own fd, or O_PATH), or -1 */
  bool own;         /**< close fd afterwards */
  bool opath;       /**< fd is O_PATH: mode through /proc/self/fd */
  int dirfd;        /**< without O_PATH: the verified folder ... */
  const char *name; /**< ... and the name in it */
  bool own_dirfd;   /**< close dirfd afterwards */
  bool no_change;   /**< without O_PATH, a device or socket: looked at by
                         name, never changed (chown, chmod: -ENOTSUP) */
} pw_target;

/** Same device, inode and file type. */
bool pw_same_entry(const struct stat *a, const struct stat *b);

/**
 * The entry e of a walk, for changing: a folder through its own fd (or an
 * O_PATH one when it could not be read), anything else through an O_PATH fd
 * opened by name inside its folder's fd.  Without O_PATH (macOS) it is
 * opened O_NOFOLLOW | O_NONBLOCK (O_EVTONLY where there is one; a link
 * O_SYMLINK, or by name where that is missing) and changed through that
 * fd, never by name; a device's or socket's change is -ENOTSUP.  Its fstat goes to
 * *now.  0, -ESTALE when a different entry is there now, 1 to skip
 * silently (no way to reach it), or -errno.
 */
int pw_target_entry(const pw_entry *e, pw_target *t, struct stat *now);
/**
 * The folder at an absolute path, opened from `/` one component at a time,
 * none of them followed if it is a link (O_PATH on Linux).  The path must
 * be canonical: no empty, "." or ".." component, no trailing '/'.  An fd
 * or -errno (-ELOOP/-ENOTDIR: a link or a non-folder on the way).
 */
int pw_open_folder(const char *abs);
/**
 * rel below the folder open at dirfd ("." for that folder itself), reached
 * one component at a time, none followed if it is a link (the last one is
 * reached as the link itself); an empty, "." or ".." component is refused
 * (-EINVAL), so the entry is always below dirfd.  Its fstat goes to *now.
 * 0 or -errno (-ELOOP/-ENOTDIR: a link or a non-folder on the way).
 */
int pw_target_at(int dirfd, const char *rel, pw_target *t, struct stat *now);

int pw_target_chown(const pw_target *t, uid_t uid, gid_t gid);
int pw_target_chmod(const pw_target *t, mode_t mode);
int pw_target_stat(const pw_target *t, struct stat *st);
/**
 * The read-back after a chmod of t to the mode `set`, which added the bits
 * `added` to an entry meant to be uid:gid (repair's and chown's chmod,
 * undo's): its stat to *st.  When its owner or group is no longer uid:gid
 * (someone else's chgrp or chown, another run, between the caller's look
 * and its chmod), the bits added would be that owner's or group's, and so
 * would, on a file (not a folder), setuid and setgid with group execute,
 * which that chown took off before the chmod set them again (the kernel's
 * rule; the caller's look saw them as the entry's own): all of them are
 * taken off again.  Only taken off: whatever else was set meanwhile gives
 * no access by this.  *st is then read once more (its mode less those
 * bits when that read fails).  1 then (never when `added` is 0 and `set`
 * has neither bit), 0 otherwise, or the -errno of the first stat (*st not
 * read).
 */
int pw_target_chmod_readback(const pw_target *t, mode_t set, mode_t added, uid_t uid, gid_t gid,
                             struct stat *st);
/**
 * The entry's birth time (statx STATX_BTIME on Linux, st_birthtimespec on
 * macOS): true and *sec, *nsec, or false where the system or the file
 * system gives none (or the call fails).
 */
bool pw_target_btime(const pw_target *t, int64_t *sec, uint32_t *nsec);
/**
 * Whether the entry is on overlayfs (sys.h pw_fd_on_overlayfs: its fd, or
 * else the folder holding it).  There the first chown or chmod of an entry
 * of a lower layer copies it up, with the same inode number and a new
 * birth time: its birth time tells nothing about the file being another.
 */
bool pw_target_on_overlayfs(const pw_target *t);
void pw_target_close(pw_target *t);

/**
 * Whether the mode of an entry held by an O_PATH descriptor can be changed
 * here: through /proc/self/fd, or with fchmodat2 (Linux 6.6) where /proc
 * is not mounted.
 */
bool pw_can_chmod_opath(void);

/**
 * Read extended attribute attr of the entry e (getxattr's contract: cap 0
 * asks for the size), through descriptors only: a folder's own, or the
 * entry opened by name inside its verified folder, never through a link,
 * and checked to be the inode listed (-ESTALE otherwise).  The value's size
 * or -errno (-ENODATA: no such attribute).
 */
ssize_t pw_entry_xattr(const pw_entry *e, const char *attr, void *buf, size_t cap);

/**
 * pw_target_xattr of t, the entry rel below the folder rootfd as
 * pw_target_at reached it (stat st), with no walk entry: without /proc,
 * the folder above rel reached the same way and the name read there
 * (getxattrat, Linux 6.13), checked to be st's inode (-ESTALE otherwise).
 */
ssize_t pw_target_xattr_named(const pw_target *t, int rootfd, const char *rel,
                              const struct stat *st, const char *attr, void *buf, size_t cap);

/**
 * pw_entry_xattr for a dry run, which changes nothing by what it reads:
 * one system call (getxattrat, Linux 6.13) by name inside the verified
 * folder, never through a link, instead of an open, a stat, a lookup
 * through /proc/self/fd and a close (a dry run that plans a change for
 * every entry spent most of its time there).  Not checked to be the inode
 * listed: a file put in its place since the listing is the one read, and
 * a dry run's notice may be about it (--apply reads through the very
 * descriptor it changes).  Where getxattrat is missing or refused, or for
 * a folder, pw_entry_xattr itself.
 */
ssize_t pw_entry_xattr_peek(const pw_entry *e, const char *attr, void *buf, size_t cap);

/**
 * The same through t, the entry's target as pw_target_entry (or
 * pw_target_at, e NULL) opened it; without /proc, by name through e's
 * folder (e NULL: -ENOENT).
 */
ssize_t pw_target_xattr(const pw_target *t, const pw_entry *e, const char *attr, void *buf,
                        size_t cap);

#endif
