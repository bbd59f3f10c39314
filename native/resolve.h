/*
 * resolve.h — an output's name resolved to its folder (held open) and last
 * name, as the kernel resolves it, without following the links that
 * fs.protected_symlinks would refuse, whatever that sysctl says.
 *
 * Owns: walking a path component by component from the current folder or
 * `/` (`..` taken physically), each symbolic link met, in any component and
 * at the last one, read through a descriptor of the link itself and its
 * target spliced in (at most 40 links); a link in a sticky folder that
 * others can write (/tmp), owned by neither the process's effective user
 * nor the folder's owner, is refused.  Another user could have put it there
 * for root to write, or replace, a file of her choosing; the kernel's
 * fs.protected_symlinks = 1 refuses it too, and with it 0 (as on some
 * machines) the check is still made here.  What is found is then opened
 * through the folder's descriptor and the last name, never by the path
 * again: a link put in place of a checked name is not followed (O_NOFOLLOW).
 * Links in /proc (Linux) that lead to a pipe or device are the exception:
 * their text ("pipe:[1234]") names nothing, and the kernel follows them.
 */
#ifndef PW_RESOLVE_H
#define PW_RESOLVE_H

#include <stddef.h>

/** A resolved output name. */
typedef struct pw_resolved {
  int dirfd;  /**< the folder holding leaf: O_PATH|O_DIRECTORY (O_RDONLY off Linux), owned */
  char *leaf; /**< its last name, never a link when resolved (malloc'd): "." for "/" */
  int follow; /**< leaf is a link of /proc to a pipe or device (/dev/fd/1, /dev/stderr):
                   opened through it, the kernel following it (its text names no file) */
} pw_resolved;

/**
 * Resolve path (links at every component followed, the last one too) into
 * out.  The last name need not exist (a new file).  Returns 0, or -errno
 * with msg set to the one-line reason after "cannot write PATH: " is not
 * enough: -EACCES for a refused link (msg: "PATH: not followed: ..."),
 * -ENOENT for a missing folder on the way or a link to nothing, -ELOOP,
 * -ENOTDIR, -ENAMETOOLONG; msg is empty for the plain errno cases.  On
 * failure out holds nothing to free.
 */
int pw_resolve(const char *path, pw_resolved *out, char *msg, size_t msgcap);

/** Free what pw_resolve gave (its folder closed). */
void pw_resolved_free(pw_resolved *r);

#endif
