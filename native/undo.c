/*
 * undo.c — putting one journal line back (pw_restore, for lib/undo.ts):
 * the entry reached without following any link (fdops.h), restored only
 * while it is still the same device and inode, and each field only while it
 * still holds what the run set.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fdops.h"
#include "pwalk.h"

PW_API int32_t pw_restore(const uint8_t *path, size_t len, const int64_t *v, int32_t apply) {
  if (!path || !len || memchr(path, 0, len)) return -EINVAL;
  char *p = malloc(len + 1);
  if (!p) return -ENOMEM;
  memcpy(p, path, len);
  p[len] = 0;
  pw_target t;
  struct stat now;
  int32_t out = pw_target_path(p, &t, &now);
  if (out) goto end;
  if ((uint64_t)now.st_dev != (uint64_t)v[0] || (uint64_t)now.st_ino != (uint64_t)v[1] ||
      (now.st_mode & S_IFMT) != (mode_t)v[2]) {
    out = -ESTALE;
    goto end;
  }
  uint32_t ouid = (uint32_t)v[3], ogid = (uint32_t)v[4], omode = (uint32_t)v[5];
  uint32_t nuid = (uint32_t)v[6], ngid = (uint32_t)v[7], nmode = (uint32_t)v[8];
  uint32_t cmode = now.st_mode & 07777;
  uid_t uid = (uid_t)-1;
  gid_t gid = (gid_t)-1;
  /* Owner+group, and mode, each go back only while they still hold what
     the journal set (owner and group as one: a half match is someone
     else's change, or another file that reuses the inode number). */
  if (now.st_uid != ouid || now.st_gid != ogid) {
    if (now.st_uid == nuid && now.st_gid == ngid) {
      if (nuid != ouid) uid = ouid;
      if (ngid != ogid) gid = ogid;
    } else {
      out |= PW_RESTORE_OWNER_KEPT;
    }
  }
  bool mode_back = false;
  if (cmode != omode) {
    /* a chown may have cleared setuid/setgid after the journal's change */
    if (cmode == nmode || (cmode | (nmode & (S_ISUID | S_ISGID))) == nmode) mode_back = true;
    else out |= PW_RESTORE_MODE_KEPT;
  }
  if (uid != (uid_t)-1 || gid != (gid_t)-1) out |= PW_RESTORE_OWNER;
  if (mode_back) out |= PW_RESTORE_MODE;
  if (!apply) goto end;
  if (uid != (uid_t)-1 || gid != (gid_t)-1) {
    int rc = pw_target_chown(&t, uid, gid);
    if (rc) {
      out = rc;
      goto end;
    }
  }
  if (!S_ISLNK(now.st_mode)) {
    uint32_t want = mode_back ? omode : cmode;
    struct stat after;
    int rc = pw_target_stat(&t, &after);
    if (rc) {
      out = rc;
      goto end;
    }
    if ((after.st_mode & 07777) != want) {
      rc = pw_target_chmod(&t, want);
      if (rc) out = rc;
    }
  }
end:
  pw_target_close(&t);
  free(p);
  return out;
}
