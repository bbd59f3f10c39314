/*
 * undo.c — putting journal lines back (pw_restore_root, pw_restore, for
 * lib/undo.ts): a run's ROOT opened from `/` without following any link
 * and checked to be the device and inode its journal header recorded; each
 * entry reached from that folder, component by component, never through a
 * link nor a ".." (fdops.h), restored only while it is still the same device
 * and inode, and each field only while it still holds what the run set.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdops.h"
#include "pwalk.h"

#define SETID ((uint32_t)(S_ISUID | S_ISGID))

/* A NUL-terminated copy of len bytes (no NUL inside), or NULL. */
static char *cstr(const uint8_t *s, size_t len) {
  if (!s || !len || memchr(s, 0, len)) return NULL;
  char *p = malloc(len + 1);
  if (!p) return NULL;
  memcpy(p, s, len);
  p[len] = 0;
  return p;
}

PW_API int32_t pw_restore_root(const uint8_t *path, size_t len, uint64_t dev, uint64_t ino) {
  char *p = cstr(path, len);
  if (!p) return path && len && !memchr(path, 0, len) ? -ENOMEM : -EINVAL;
  int fd = pw_open_folder(p);
  free(p);
  if (fd < 0) return fd;
  struct stat st;
  if (fstat(fd, &st)) {
    int e = errno;
    close(fd);
    return -e;
  }
  if ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino) {
    close(fd);
    return -ESTALE;
  }
  return fd;
}

/* Whether the access ACL of the entry t holds names users or groups
   (user:bob:r--, added by its owner since the run) that the group bits
   taken off (the ACL's mask) would shut out: undo's chmod would take back
   what the owner gave them.  An entry naming the group the run gave (ngid:
   group:PROJECT:r--, which repair let in with the group's own entry) is
   not counted: undo takes back that group's access, as the run gave it.  An ACL that cannot be read is taken as none
   (the mode goes back, as before ACLs were looked at); one over the
   buffer (some 500 entries) as naming such users. */
static bool shuts_out_named(const pw_target *t, int rootfd, const char *rel,
                            const struct stat *st, unsigned removed, uint32_t ngid) {
#ifdef __linux__
  if (!removed) return false;
  unsigned char v[4096];
  ssize_t n = pw_target_xattr_named(t, rootfd, rel, st, "system.posix_acl_access", v, sizeof v);
  if (n == -ERANGE) return true;
  if (n < 4 || (n - 4) % 8 || v[0] != 2) return false;
  for (ssize_t k = 4; k + 8 <= n; k += 8) {
    unsigned tag = v[k] | (unsigned)v[k + 1] << 8, perm = v[k + 2] | (unsigned)v[k + 3] << 8;
    uint32_t id = v[k + 4] | (uint32_t)v[k + 5] << 8 | (uint32_t)v[k + 6] << 16 |
                  (uint32_t)v[k + 7] << 24;
    if ((tag == 0x02 /* ACL_USER */ || (tag == 0x08 /* ACL_GROUP */ && id != ngid)) &&
        (perm & removed))
      return true;
  }
#else
  (void)t, (void)rootfd, (void)rel, (void)st, (void)removed, (void)ngid;
#endif
  return false;
}

PW_API int32_t pw_restore(int32_t rootfd, const uint8_t *rel, size_t len, int64_t *v,
                          int32_t apply) {
  char *p = cstr(rel, len);
  if (!p) return rel && len && !memchr(rel, 0, len) ? -ENOMEM : -EINVAL;
  pw_target t;
  struct stat now;
  int32_t out = pw_target_at(rootfd, p, &t, &now);
  if (out) goto end;
  if ((uint64_t)now.st_dev != (uint64_t)v[0] || (uint64_t)now.st_ino != (uint64_t)v[1] ||
      (now.st_mode & S_IFMT) != (mode_t)v[2]) {
    out = -ESTALE;
    goto end;
  }
  /* A journal line with the entry's birth time (version 2): a file born
     since, which took the inode number of the one changed (the owner the
     run gave it deleted it and wrote another), is not the run's.  Where
     the birth time cannot be read now, the line is judged as one without;
     so is one on overlayfs (looked at on a mismatch only), where the run's
     own change copied the entry up from a lower layer: same inode number,
     a new birth time (runs write "-" there now; earlier builds wrote the
     birth time the entry had before its copy-up). */
  if (v[18]) { /* 2: set so by a try of this line before (out of descriptors) */
    int64_t sec;
    uint32_t nsec;
    if (pw_target_btime(&t, &sec, &nsec) && (sec != v[19] || (int64_t)nsec != v[20]) &&
        !pw_target_on_overlayfs(&t)) {
      v[18] = 2;
      out = -ESTALE;
      goto end;
    }
  }
  if (v[13] && !apply) {
    /* a dry run of a journal of several runs: the state the newer lines'
       restores would have left (pw_restore's callers keep it) */
    now.st_uid = (uid_t)v[14];
    now.st_gid = (gid_t)v[15];
    now.st_mode = (now.st_mode & S_IFMT) | ((mode_t)v[16] & 07777);
  }
  uint32_t ouid = (uint32_t)v[3], ogid = (uint32_t)v[4], omode = (uint32_t)v[5];
  uint32_t nuid = (uint32_t)v[6], ngid = (uint32_t)v[7], nmode = (uint32_t)v[8];
  uint32_t cmode = now.st_mode & 07777;
  bool owned_as_run = now.st_uid == nuid && now.st_gid == ngid;
  /* Whether someone besides the file's owner could have written it since
     the run: the run gave it another owner, or group or others write, or a
     later run of the journal did (v[17], from the caller, which undoes the
     newer lines first and so has already put that run's values back).  A
     write by anyone but the owner clears setuid/setgid (the kernel's rule);
     putting them back would bless what that person wrote. */
  bool others_wrote = !S_ISDIR(now.st_mode) &&
                      (v[17] || nuid != ouid || (nmode & (S_IWGRP | S_IWOTH)));
  /* The bits held back.  The owner's own writes are harmless to setuid
     (it runs as that owner), not to setgid: a file owned by anyone but
     root that its owner could have rewritten while the bit was off (after
     the run, a write by the owner no longer clears it) would run the
     owner's code as a group the owner may not be in (root's group 0,
     say).  So setgid goes back on a file (not a folder, where it only
     hands the group down) only when root owns it and nobody else could
     have written it. */
  uint32_t held = others_wrote ? SETID
                  : (!S_ISDIR(now.st_mode) && nuid != 0) ? (uint32_t)S_ISGID
                                                         : 0;
  int32_t held_bit = others_wrote ? PW_RESTORE_SETID_WRITABLE : PW_RESTORE_SETGID_OWNER;
  uid_t uid = (uid_t)-1;
  gid_t gid = (gid_t)-1;
  /* Owner+group, and mode, each go back only while they still hold what
     the journal set (owner and group as one: a half match is someone
     else's change, or another file that reuses the inode number). */
  if (now.st_uid != ouid || now.st_gid != ogid) {
    if (owned_as_run) {
      if (nuid != ouid) uid = ouid;
      if (ngid != ogid) gid = ogid;
    } else {
      out |= PW_RESTORE_OWNER_KEPT;
    }
  }
  /* A run stopped (kill -9, the OOM killer) between its chown and its
     chmod left the old mode less the setuid/setgid bits the chown cleared,
     under the run's owner and group: its own state, not someone's change
     (not a folder's: a chown leaves a folder's setgid). */
  bool chown_cleared = owned_as_run && (nuid != ouid || ngid != ogid) &&
                       !S_ISDIR(now.st_mode) && (cmode | (omode & SETID)) == omode;
  /* The setuid/setgid bits the run set that the entry does not have now,
     the rest of its mode as the run left it: taken off since by a chmod,
     a chown or a write (a file's), held back by this undo's restore of a
     newer run, or dropped by the kernel at the run's own chmod (a caller
     outside the group, without CAP_FSETID).  Never put back: an admin's
     chmod u-s of a root helper undone would arm it again. */
  uint32_t lost = !chown_cleared && cmode != nmode && (cmode | (nmode & SETID)) == nmode
                      ? nmode & ~cmode & SETID
                      : 0;
  /* Under its old owner and group again, not the run's: chowned back by
     hand since the run (an admin's chgrp, which cleared setuid).  Who held
     it in between, and could have rewritten it, is unknown: its mode goes
     back as on a file someone besides its owner could have rewritten
     (without the setuid/setgid bits it lost), not kept as on one someone
     else owns now, which it is not. */
  bool back_home = !owned_as_run && now.st_uid == ouid && now.st_gid == ogid;
  bool mode_back = false;
  /* the mode put back when bits are held: the old one less the held bits
     the file has lost since */
  uint32_t bare = (omode & ~held) | (omode & cmode & held);
  /* ... and on a file chowned back by hand (back_home), every such bit */
  uint32_t bare_home = (omode & ~SETID) | (omode & cmode & SETID);
  bool as_held = (omode & held) && cmode == bare;
  /* the old mode less setuid/setgid bits the run's mode had too: a first
     undo's doing where they were lost since (or someone's chmod) */
  bool undone_lost = (omode & ~cmode) && !(cmode & ~omode) &&
                     !((omode & ~cmode) & ~(nmode & SETID));
  bool home_bare = back_home && (omode & ~cmode & SETID) && cmode == bare_home;
  if (cmode != omode && now.st_uid == ouid && now.st_gid == ogid &&
      (as_held || home_bare || undone_lost)) {
    /* Under its old owner and group, with the old mode less setuid/setgid:
       undone before (the journal undone a second time), or put so by
       someone (an admin's chown back, which cleared them).  Nothing on the
       entry tells the two apart, and either way the bits stay off: said so
       (not "as before", which a first undo would make a lie), with the
       note a first undo gave. */
    /* (a folder is never rewritten: the bits lost since, said so) */
    out |= as_held                                              ? held_bit
           : undone_lost && (S_ISDIR(now.st_mode) || !home_bare) ? PW_RESTORE_SETID_LOST
                                                                 : PW_RESTORE_SETID_WRITABLE;
  } else if (cmode != omode) {
    if (cmode != nmode && !lost && !chown_cleared) {
      out |= PW_RESTORE_MODE_KEPT; /* someone's change since */
    } else if ((omode & ~cmode & SETID) && !owned_as_run && !back_home) {
      /* Never a setuid/setgid bit on an entry that someone else owns now
         (given to root since, say): the whole mode is kept. */
      out |= PW_RESTORE_MODE_KEPT | PW_RESTORE_SETID_KEPT;
    } else {
      /* ... nor on a file others could have rewritten since (chowned back
         by hand since, too), nor setgid on one its owner could have: the
         mode goes back without those bits; nor the bits lost since. */
      uint32_t strip = omode & ~cmode & (back_home ? SETID : held);
      if (strip) out |= back_home ? PW_RESTORE_SETID_WRITABLE : held_bit;
      if (omode & lost & ~strip) out |= PW_RESTORE_SETID_LOST;
      omode &= ~(strip | lost);
      mode_back = omode != cmode;
    }
  }
  v[21] = cmode; /* the mode found */
  if (mode_back &&
      shuts_out_named(&t, rootfd, p, &now, ((cmode >> 3) & 7) & ~((omode >> 3) & 7), ngid)) {
    mode_back = false;
    out |= PW_RESTORE_ACL_KEPT;
  }
  /* Owner and group going back while the mode stays as someone set it
     since the run (or as an ACL given since needs it): the group access
     that mode gives beyond the old mode's, and beyond what others have
     anyway, was given to the run's group; with the old group back it
     would go to that group, which nobody gave it to (a --change-gids
     group such as users, every user's: an owner's folder opened to the
     project with chmod 2770 would be one every user may write in).  So
     owner and group are kept too, unless the old group is the old owner's
     own (its gid the owner's uid). */
  if ((out & (PW_RESTORE_MODE_KEPT | PW_RESTORE_ACL_KEPT)) && !mode_back && gid != (gid_t)-1 &&
      ogid != ouid &&
      ((cmode >> 3) & 7 & ~((omode >> 3) & 7) & ~(cmode & 7))) {
    uid = (uid_t)-1;
    gid = (gid_t)-1;
    out |= PW_RESTORE_GROUP_KEPT;
  }
  if (uid != (uid_t)-1 || gid != (gid_t)-1) out |= PW_RESTORE_OWNER;
  if (mode_back) out |= PW_RESTORE_MODE;
  v[9] = mode_back ? omode : cmode; /* the mode put back (or that would be) */
  /* the state it leaves (or would): a chown of a non-folder clears setuid,
     and setgid with group execute, of a mode kept */
  v[10] = uid != (uid_t)-1 ? uid : now.st_uid;
  v[11] = gid != (gid_t)-1 ? gid : now.st_gid;
  uint32_t left = (uint32_t)v[9];
  if (!mode_back && (uid != (uid_t)-1 || gid != (gid_t)-1) && !S_ISDIR(now.st_mode) &&
      !S_ISLNK(now.st_mode)) {
    left &= ~(uint32_t)S_ISUID;
    if (left & S_IXGRP) left &= ~(uint32_t)S_ISGID;
  }
  v[12] = left;
  if (!apply) goto end;
  if (uid != (uid_t)-1 || gid != (gid_t)-1) {
    int rc = pw_target_chown(&t, uid, gid);
    if (rc) {
      out = rc;
      goto end;
    }
  }
  if (!S_ISLNK(now.st_mode)) {
    struct stat after;
    int rc = pw_target_stat(&t, &after);
    if (rc) {
      out = rc;
      goto end;
    }
    uint32_t amode = after.st_mode & 07777;
    /* A mode kept stays as the chown left it: setuid/setgid bits the
       kernel cleared when the owner went back are not put on again. */
    uint32_t want = mode_back ? omode : (cmode & ~SETID) | (amode & cmode & SETID);
    uid_t euid = uid != (uid_t)-1 ? uid : now.st_uid;
    gid_t egid = gid != (gid_t)-1 ? gid : now.st_gid;
    if ((want & ~amode & SETID) && (after.st_uid != euid || after.st_gid != egid)) {
      /* the owner changed under us meanwhile: no setuid/setgid for it */
      want = (want & ~SETID) | (amode & SETID);
      out = (out & ~PW_RESTORE_MODE) | PW_RESTORE_MODE_KEPT | PW_RESTORE_SETID_KEPT;
      /* the rest of the mode still goes back (a group bit taken off): said
         as a mode put back, not as one kept */
      if (want != cmode) {
        out = (out & ~PW_RESTORE_MODE_KEPT) | PW_RESTORE_MODE;
        v[9] = want;
      }
      /* the state it leaves: that owner and group's, not the ones undo
         meant to put back */
      v[10] = after.st_uid;
      v[11] = after.st_gid;
      v[12] = want;
    }
    if (amode != want) {
      uint32_t added = want & ~amode;
      rc = pw_target_chmod(&t, want);
      /* Without CAP_FSETID, a caller outside the file's group gets a
         setgid bit dropped silently: an error, as repair reports it (not
         a mode put back that is not there).  Any other difference is
         someone's chmod between this one and the read-back, or a file
         system that does not keep modes: the mode there, kept (not
         "Operation not permitted"). */
      uint32_t am;
      int back = rc ? rc : pw_target_chmod_readback(&t, want, added, euid, egid, &after);
      if (back == 1) {
        /* The owner or group changed between the look above and the
           chmod (a chgrp, a chown by root): the bits it added, setuid or
           setgid put back for the old owner and group, would be another
           owner's or group's now.  Taken off again, and the mode kept, as
           when that change came before the look. */
        am = after.st_mode & 07777;
        out = (out & ~PW_RESTORE_MODE) | PW_RESTORE_MODE_KEPT |
              (want & ~am & SETID ? PW_RESTORE_SETID_KEPT : 0);
        /* the bits the chmod took off stay off (a group bit the run had
           given): a mode put back in part, said as the mode it is now */
        if (am != cmode) {
          out = (out & ~PW_RESTORE_MODE_KEPT) | PW_RESTORE_MODE;
          v[9] = am;
        }
        v[10] = after.st_uid;
        v[11] = after.st_gid;
        v[12] = am;
      } else if (back == 0 && (am = after.st_mode & 07777) != want) {
        if ((want & S_ISGID) && am == (want & ~(uint32_t)S_ISGID)) rc = -EPERM;
        else out = (out & ~PW_RESTORE_MODE) | PW_RESTORE_MODE_KEPT;
        v[12] = am; /* the mode there (someone's chmod meanwhile) */
      }
      if (rc) out = rc;
    }
    /* An owner or group given meanwhile (a chgrp after undo's chown, seen
       by its look or its read-back), with no bit added for it: the state
       it leaves is that owner and group's too, not the ones put back */
    if (after.st_uid != euid || after.st_gid != egid) {
      v[10] = after.st_uid;
      v[11] = after.st_gid;
      v[12] = after.st_mode & 07777;
    }
  }
end:
  pw_target_close(&t);
  free(p);
  return out;
}
