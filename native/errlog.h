/*
 * errlog.h — the error log of a job.
 *
 * Owns: counting errors (unreadable folder, vanished entry, failed stat,
 * refused change), keeping the first N details (operation, errno, path) for
 * the API, streaming one line per error to an fd (the CLI's stderr), and
 * one CSV row per error to another (the CLI's --errors FILE).
 * Errors are rare, so one mutex is enough; the hot path never takes it.
 */
#ifndef PW_ERRLOG_H
#define PW_ERRLOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pw_errdetail {
  int op;       /**< a pw_op */
  int err;      /**< errno */
  char *path;   /**< NUL-terminated copy */
  size_t len;
  char *text;   /**< the notice's own message (a copy), or NULL: pw_error_text's */
} pw_errdetail;

typedef struct pw_errlog {
  pthread_mutex_t mu;
  _Atomic uint64_t count; /**< all errors, also those past max (read without mu: progress
                             must not wait for a writer waiting on a full pipe) */
  pw_errdetail *items;   /**< the first max details */
  uint32_t n, max;
  int fd;                /**< -1 = do not stream */
  int csv_fd;            /**< -1 = no CSV rows; set after pw_errlog_init */
  int csv_err;           /**< the first failed CSV write (errno; no rows after it) */
  bool clear_line;       /**< stderr lines start with "\r\x1b[K" (a progress line there) */
  bool csv_tty;          /**< csv_fd is a terminal: control bytes in paths escaped */
  int own_fd, own_csv_fd; /**< fd and csv_fd's pipes opened again non-blocking (-1: none) */
  _Atomic bool stop;      /**< the job is cancelled: a full pipe is waited for no more */
} pw_errlog;

int pw_errlog_init(pw_errlog *l, uint32_t max, int fd);
/**
 * Once fd and csv_fd are set: a pipe among them (stdout read by a pager,
 * `--errors -`) is written through a non-blocking description of its own
 * (sys.h: pw_reopen_nonblocking), so that when its reader stops reading, a
 * writer waiting for room still sees pw_errlog_cancel.
 */
void pw_errlog_unblock(pw_errlog *l);
/** The job is cancelled: a write to a full pipe ends (its row lost, -ECANCELED). */
void pw_errlog_cancel(pw_errlog *l);
void pw_errlog_fini(pw_errlog *l);
/** Record an error on path (len bytes).  Returns 0, or -errno when its CSV
 *  row could not be written (once: no rows are written after that). */
int pw_errlog_add(pw_errlog *l, int op, int err, const char *path, size_t len);
/** pw_errlog_add with a message of its own (text, a line: no control bytes), not
 *  pw_error_text's (NULL: that one). */
int pw_errlog_add_text(pw_errlog *l, int op, int err, const char *path, size_t len,
                       const char *text);
/** Write "Bad File: <path>" (pwalk's notice for control bytes) to the fd. */
void pw_errlog_badname(pw_errlog *l, const char *path, size_t len);
uint64_t pw_errlog_count(pw_errlog *l);
const char *pw_op_name(int op);
/** The errno's name ("EACCES"), or NULL when not in the table (callers print E<number>). */
const char *pw_errno_name(int err);

/**
 * Copy path to out with control bytes escaped (\n, \t, \xHH), C1
 * controls in UTF-8 (C2 80-9F) as \xc2\xHH, bytes that are not UTF-8 as
 * \xHH, the backslash as \\, and every format character (Unicode's Cf:
 * the bidirectional controls, the invisible ones) and the line and
 * paragraph separators (U+2028, U+2029) as \uXXXX (\u{XXXXX} above
 * U+FFFF), so that one path is one line a terminal only shows, and no two
 * names read the same; returns the bytes written.
 * out needs 4 * len bytes.
 */
size_t pw_escape_path(char *out, const char *path, size_t len);

/** The message of a PW_OP_ANCESTOR notice (repair: no shared group above). */
#define PW_NO_ANCESTOR_TEXT "no ancestor folder has a shared group; private groups left as they are"

/** The message of a PW_OP_ACL notice (repair: the ACL keeps the group out). */
#define PW_ACL_TEXT                                                                        \
  "its access ACL's group entry (group::) gives the group less than the mode's group bits " \
  "show, which are the ACL's mask: see getfacl, setfacl -m g::r"

/** The message of a PW_OP_ACL_NAMED notice (the wider mask would let named entries in). */
#define PW_ACL_NAMED_TEXT                                                                   \
  "its access ACL names users or groups (user:NAME, group:NAME) that its mask keeps out, and " \
  "the group bits the rules give (the mask) would let them in too: left alone (see getfacl; "  \
  "setfacl -x removes an entry, or chmod g+r gives access all the same)"

/** A PW_OP_ACL_NAMED notice (op "acl_named" too) of an entry left alone
    because the group it would take would lose access others have: its
    access ACL's group entry (group::, with any entry naming that group)
    gives less than its other entry (other::), so the group's members, who
    reach it as others now, would be kept to group:: once it is theirs.
    Repair's own, never in a walk's records (not in enum pw_op). */
#define PW_OP_ACL_OTHER (PW_OP_ACL_NAMED | 0x100)
#define PW_ACL_OTHER_TEXT                                                                     \
  "its access ACL's group entry (group::) gives less than others get (other::): the members " \
  "of the group it would take, who reach it as others now, would be kept to group:: then and " \
  "lose that access: left alone (see getfacl; setfacl -m g::r, then run again)"

/** The message of a PW_OP_ACL_NAMED notice with an errno: the ACL could not be read
    (%s: strerror), so the entry is left alone as one whose named entries it would let in. */
#define PW_ACL_NAMED_UNREAD_FMT                                                             \
  "its access ACL could not be read (%s), so whether the group bits the rules give (the "   \
  "mask) would let users or groups it names in is unknown: left alone (see getfacl)"

/** The message of a PW_OP_ACL notice with an errno: the ACL could not be read (%s). */
#define PW_ACL_UNREAD_FMT                                                                   \
  "its access ACL could not be read (%s): whether its group entry (group::) gives the "    \
  "group what the mode's group bits show is unknown (see getfacl)"

/** The message of a PW_OP_CAPABILITY notice (a file with capabilities). */
#define PW_CAPS_TEXT                                                                       \
  "it has file capabilities (security.capability), which the kernel drops when its owner "  \
  "or group changes and undo cannot put back, and which a member of its group who rewrote " \
  "it would keep were it made group-writable (a write through a shared mapping leaves "     \
  "them on): repair leaves it as it is, chown changes it all the same (see getcap, setcap)"

/** The message of a PW_OP_SETID notice (a set-id file kept from group write). */
#define PW_SETID_TEXT                                                                        \
  "a setuid or setgid file: not made group-writable, lest a member of its group rewrite it " \
  "and run that as its owner or group (a write through a shared mapping leaves those bits " \
  "on); the other rules applied"

/** The message of a PW_OP_DEVICE notice (a device node left alone). */
#define PW_DEVICE_TEXT                                                                       \
  "a device node: left alone (group access to it would be access to the device)"
#define PW_HARDLINKS_TEXT                                                                  \
  "a file with hard links outside the tree (or in folders the run did not enter, or whose "   \
  "names changed during the run or just before it: run again later): left alone, lest its "  \
  "names elsewhere open with it (its other names: find / -samefile PATH)"
/** A PW_OP_HARDLINKS notice (op "hardlinks" too) of a file with hard links
    on overlayfs, left alone. */
#define PW_OP_OVERLAY_LINKS (PW_OP_HARDLINKS | 0x100)
#define PW_OVERLAY_LINKS_TEXT                                                                 \
  "a file with hard links on overlayfs: a change would copy up only this name, to a new "    \
  "file, and part it from its other names (undo could not find it again): left alone; change " \
  "it where the layer is mounted"
/** The message of a PW_OP_LINKS notice (hard links under two shared groups). */
#define PW_LINKS_TEXT                                                                       \
  "a file with hard links in folders of different shared groups: it takes the group of the " \
  "folder above the name reached first, not this name's folder's"
/** A PW_OP_LINKS notice (op "links" too) of a file left alone: its first
    name has no shared group above it (rule 2), where this name has one.
    Repair's own, never in a walk's records (not in enum pw_op). */
#define PW_OP_LINKS_LEFT (PW_OP_LINKS | 0x100)
#define PW_LINKS_LEFT_TEXT                                                                   \
  "a file with hard links: the name reached first has no folder with a shared group above " \
  "it, so the file is left as it is, and not changed for this one either"

/** A PW_OP_LOOP notice (op "loop" too, err 0): repair or chown reached a
    folder it guards (pw_job_guard) through a mount inside the tree. */
#define PW_OP_LOOP_GUARD (PW_OP_LOOP | 0x100)
#define PW_GUARD_TEXT                                                                         \
  "a folder above ROOT, or the journal's or errors file's, shown here by a mount inside the " \
  "tree: not changed, not entered"

/** The message of a PW_OP_LOOP notice (err 0): repair or chown reached the root again. */
#define PW_ROOT_AGAIN_TEXT                                                                   \
  "ROOT itself, reached again (a bind mount inside the tree): not changed, not entered"

/** The message of a PW_OP_RACE error with ESTALE: the entry at the name is
    no longer the one listed or journaled (another folder or file put there;
    on NFS the server's ESTALE says the same of a removed one), strerror's
    text kept at its end, where it alone read as an NFS fault on a local disk. */
#define PW_REPLACED_TEXT                                                                    \
  "replaced since it was seen: another entry is at its name (Stale file handle)"

/** The message of a PW_OP_RACE error (err 0) of repair or chown: the mode read back
    after its chmod (%04o) is another than the one set (%04o), not as the kernel's
    dropped setgid bit would leave it: someone changed it meanwhile, or the file
    system took the chmod without keeping the mode (vfat or exfat mounted with
    "quiet", CIFS without Unix extensions), which the read-back cannot tell apart. */
#define PW_MODE_RACE_FMT                                                                \
  "its mode read back is %04o, not the %04o set (changed by someone else meanwhile, " \
  "or the file system does not keep modes); left as it is now"

/** The message of a PW_OP_RACE error (err 0) of repair or chown: the owner and
    group (%u:%u) are no longer those the change was planned for (%u:%u), just
    before its chmod or just after it (another run, an undo of one, a chgrp):
    the mode (%04o) is left as it is, not made the one planned (%04o), which
    would give that group the access meant for the planned one (on a file
    system that takes a chown without keeping it, vfat "quiet", the old one). */
#define PW_OWNER_RACE_FMT                                                                      \
  "its owner and group are %u:%u now, not the %u:%u its change was planned for (changed by " \
  "someone else meanwhile: another run, an undo, a chgrp; or the file system does not keep " \
  "owners); its mode left %04o, not made %04o"

/** The message of a PW_OP_RACE error (err 0) of repair or chown: the owner and
    group (%u:%u) are no longer those the change was planned from (%u:%u), just
    before its chown (another run, an undo of one, the owner's chgrp): nothing
    of the change is made, neither the owner and group (%u:%u) nor the mode
    (%04o) planned; the chown would overwrite that change, and the journal
    would name as the old values ones the entry no longer had. */
#define PW_CHOWN_RACE_FMT                                                                     \
  "its owner and group are %u:%u now, not the %u:%u its change was planned from (changed by " \
  "someone else meanwhile: another run, an undo, a chgrp); left as it is, not made %u:%u %04o"

/** The message of an error: strerror(err), or the notice's text for ops
    that are notices rather than system errors (PW_OP_ANCESTOR, PW_OP_ACL,
    PW_OP_CAPABILITY); an ACL notice with an errno (the ACL could not be read)
    says so with strerror(err) in it, in a buffer of the calling thread's,
    valid till its next call. */
const char *pw_error_text(int op, int err);

/** The system's text of errno `err` for an error of `op` (strerror), but
    for a race's ESTALE, pwalk's own mark: PW_REPLACED_TEXT.  What
    pw_error_text gives an error that is no notice, and the walk's records
    carry. */
const char *pw_errno_text(int op, int err);

#endif
