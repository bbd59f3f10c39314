/*
 * pwalk.h — the public C interface of libpwalk, the one header that lib/ffi.ts
 * binds.  Everything else in native/ is private.
 *
 * A *job* is one parallel walk of one tree: a report (pwalk's CSV, plain,
 * zstd or gzip), a walk (binary batches of entries for the Deno async generator) or a
 * repair.  Every job has the same life cycle (pw_job_next only for jobs
 * that hand out records: walks, and repairs with PW_OPT_RECORDS):
 *
 *     pw_opts *o = pw_opts_new();
 *     pw_opts_set_str(o, PW_OPT_ROOT, "/data", 5);
 *     pw_job *j = pw_report_start(o);    // threads are running now
 *     pw_opts_free(o);                   // the job keeps its own copy
 *     ... pw_job_progress(j, counters) from any thread, any time ...
 *     ... pw_job_cancel(j) from any thread, any time ...
 *     int32_t rc = pw_job_wait(j);       // blocks: a `nonblocking` FFI call
 *     ... pw_job_result / pw_job_error / pw_job_message ...
 *     pw_job_free(j);
 *
 * Strings are byte strings with an explicit length (paths need not be UTF-8
 * and have no length limit); nothing here depends on NUL-terminated input.
 */
#ifndef PWALK_H
#define PWALK_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define PW_API __declspec(dllexport)
#else
#define PW_API __attribute__((visibility("default")))
#endif

#define PW_VERSION "0.1.0"

/** Option keys for pw_opts_set_int / pw_opts_set_str. */
typedef enum pw_opt {
  PW_OPT_THREADS = 1,    /**< int: worker threads, 1..1024, all reading; 0 = default:
                              16, one reader per CPU at first (govern.h) */
  PW_OPT_HEADER = 2,     /**< int: 1 = print the CSV header line first */
  PW_OPT_NOSNAP = 3,     /**< int: 1 = skip folders named ".snapshot" */
  PW_OPT_MAXDEPTH = 4,   /**< int: pwalk --depth N; 0 = unlimited */
  PW_OPT_ONE_FS = 5,     /**< int: 1 = stay on the root's device (-x) */
  PW_OPT_LEVEL = 6,      /**< int: compression level (zstd 1..19, gzip 1..9);
                              0 = the default of PW_OPT_COMPRESS's kind */
  PW_OPT_OUTPUT_FD = 7,  /**< int: write the report to this open fd (e.g. 1) */
  PW_OPT_ERROR_FD = 8,   /**< int: stream error lines to this fd; -1 = none */
  PW_OPT_MAX_ERRORS = 9, /**< int: error details kept for pw_job_error */
  PW_OPT_FOLLOW = 10,    /**< int: 1 = follow symlinks to folders (walk) */
  PW_OPT_BATCH_BYTES = 11, /**< int: walk batch size in bytes */
  PW_OPT_BATCHES = 12,   /**< int: walk batches in flight (backpressure) */
  PW_OPT_APPLY = 13,     /**< int: repair/chown: 1 = make changes, 0 = dry run */
  PW_OPT_FORCE_GW = 14,  /**< int: repair --force-group-writable */
  PW_OPT_CHOWN_FROM = 15, /**< int: chown: uid to match */
  PW_OPT_CHOWN_UID = 16, /**< int: chown: new uid */
  PW_OPT_CHOWN_GID = 17, /**< int: chown: new gid */
  PW_OPT_CHANGE_GID = 18, /**< int, repeatable: repair --change-gids member */
  PW_OPT_JOURNAL_FD = 19, /**< int: repair/chown: journal lines go to this fd */
  PW_OPT_CHANGES_FD = 20, /**< int: repair/chown: change lines go to this fd */
  PW_OPT_RECORDS = 21,   /**< int: repair/chown: 1 = hand every change made
                              (or planned) as a record through pw_job_next,
                              which the caller must then drain */
  PW_OPT_LEAF_DEPTH = 22, /**< int: folders at this depth (pwalk's numbering:
                              the root -1) or deeper are handed over as
                              entries and never entered (walk's maxDepth
                              less one); -1: the root itself is not opened,
                              its row alone is given (fcount -1).  Not set:
                              off */
  PW_OPT_ERRORS_CSV_FD = 23, /**< int: stream every error as a CSV row to this
                              fd: "path",operation,ERRNO,"message" (quotes
                              doubled inside; no header); -1 = none */
  PW_OPT_SKIP_FD = 24,   /**< int, repeatable (up to 8): leave out of the walk
                              the file open at this fd (by device and inode:
                              a journal or an error file inside the tree) */
  PW_OPT_COMPRESS = 25,  /**< int: a pw_compress: how the report is written */
  PW_OPT_HOLD = 26,       /**< int: 1 = a folder's subfolders wait for
                               pw_walk_descend before they are entered
                               (walkDirs top-down: the caller prunes; walk's
                               skip).  With PW_OPT_SUBDIRS, whose records
                               carry each held subfolder's index; walk jobs
                               only (others fail EINVAL) */
  PW_OPT_NO_STAT = 27,    /**< int: 1 = no stat per entry: names and types
                               from the listing only (a name of unknown type,
                               and folders under -x, are still stat'ed) */
  PW_OPT_LINK_DIRS = 28,  /**< int: 1 = tell symbolic links to folders (a
                               stat of each link's target) */
  PW_OPT_SUBDIRS = 29,    /**< int: walk: 1 = also a record for each subfolder
                               as its parent's listing shows it (walkDirs) */
  PW_OPT_NAMES_ONLY = 30, /**< int: walk: 1 = entry and subfolder records
                               carry the base name only (folder rows and
                               errors keep the whole path): walkDirs without
                               skip, which needs names, not paths */
  PW_OPT_BARE_DOT = 31,   /**< int: walk: 1 = below a ROOT of ".", paths have
                               no "./" ("a", "a/b", as @std/fs's join gives
                               them); the root's own row stays "." */
  PW_OPT_ERROR_CLEAR = 32, /**< int: 1 = each line streamed to PW_OPT_ERROR_FD
                               starts by clearing the terminal's line ("\\r",
                               ESC [K): a progress line drawn there is not
                               glued to it (it is redrawn at the next tick) */
  PW_OPT_CANONICAL = 33,  /**< int: walk with PW_OPT_FOLLOW: 1 = a link followed
                               is handed over, and its folder walked, under
                               its real path (realpath(3)), not the link's
                               (@std/fs walk's canonicalize) */
  PW_OPT_ROOT = 100,     /**< str: the folder to walk, exactly as printed */
  PW_OPT_OUTPUT = 101,   /**< str: report file.  A regular file (or a new
                              name) is written under a temporary name beside
                              it and renamed into place on success, keeping
                              an existing file's mode (and owner, as root);
                              a device or FIFO is written directly; a
                              symbolic link is written through; a socket,
                              a folder or a dangling link is refused */
  PW_OPT_EXCLUDE = 102,  /**< str, repeatable: full folder path to skip */
  PW_OPT_ROOT_REAL = 104, /**< str: the root's real path as the caller
                              checked it (repair refuses system folders by
                              it): the job fails (ESTALE, "changed while
                              starting") unless the folder it walks is the
                              one found at this path, opened component by
                              component without following any link.  A
                              repair then takes its ancestors and journal
                              header from this path, not from a second
                              realpath() */
  PW_OPT_FRONTIER = 103, /**< str, repeatable: "DEV INO PARENT_INO DEPTH PATH",
                              a folder of the tree below ROOT to walk instead of
                              ROOT (a shard of a planned scan): reached from
                              ROOT without following links and walked as a
                              whole run would (its row with this depth and
                              the parent inode there now), also when another
                              folder took its place; ROOT itself gets no row */
  PW_OPT_SKIP_PATH = 105, /**< str, repeatable (up to 8): a regular file left
                              out of the walk by this name only (one its
                              caller will replace: the --errors file); its
                              other hard-linked names are rows */
  PW_OPT_DEV_MAP = 106,  /**< str, repeatable: "FROM TO", two device numbers
                              in decimal: a report's rows (CSV and Parquet)
                              of a file on device FROM carry TO as st_dev
                              (a shard run on a node where the planned file
                              systems have other numbers writes the plan's);
                              the walk itself (-x) uses the real numbers.  A
                              FROM given twice, or a TO given twice, is
                              refused (EINVAL) */
  PW_OPT_GUARD_PATH = 107, /**< str, repeatable (up to 8): a folder repair and
                              chown never change nor enter, wherever a mount
                              inside the tree shows it (the journal's, by
                              its path: no /proc needed); nothing at this
                              path, or ROOT or a folder below it by this
                              path: nothing guarded */
} pw_opt;

/** Values of PW_OPT_COMPRESS. */
typedef enum pw_compress {
  PW_COMPRESS_NONE = 0, /**< plain CSV (PW_OPT_LEVEL must be 0) */
  PW_COMPRESS_ZSTD = 1, /**< one zstd frame per chunk of rows; default level 1 */
  PW_COMPRESS_GZIP = 2, /**< one gzip member per chunk of rows (libdeflate) */
  PW_COMPRESS_PARQUET = 3, /**< typed Parquet (parquet.h): a row group per chunk of
                                rows, zstd pages at PW_OPT_LEVEL (default 1) */
} pw_compress;

/** Return codes of pw_job_wait. */
typedef enum pw_status {
  PW_OK = 0,        /**< the walk finished; per-entry errors may be counted */
  PW_CANCELLED = 1, /**< pw_job_cancel was called; output was discarded */
  PW_FAILED = 2,    /**< a fatal error (root, output); see pw_job_message */
} pw_status;

/** Indexes into the counter array of pw_job_progress / pw_job_result. */
typedef enum pw_counter {
  PW_C_ENTRIES = 0, /**< rows / entries produced (folders included) */
  PW_C_DIRS = 1,    /**< folders among them */
  PW_C_BYTES = 2,   /**< sum of st_size of the entries produced */
  PW_C_ERRORS = 3,  /**< errors counted (unreadable folder, failed stat, ...) */
  PW_C_BADNAMES = 4, /**< names holding control bytes ("Bad File:") */
  PW_C_CHANGES = 5, /**< repair/chown: changes made (or planned in a dry run) */
  PW_C_MODE = 6,    /**< repair: mode changes */
  PW_C_GROUP = 7,   /**< repair: group changes */
  PW_C_SETGID = 8,  /**< repair: setgid bits added */
  PW_C_CHANGED = 9, /**< repair/chown: entries with at least one change */
  PW_C_NOANCESTOR = 10, /**< repair: entries with no qualifying ancestor */
  PW_C_OUT_BYTES = 11, /**< report: bytes written to the output */
  PW_C_ALLOC_BYTES = 12, /**< st_blocks x 512 of the entries produced */
  PW_C_HARDLINKS = 13, /**< repair/chown: changed (or planned) entries other than
                            folders with more than one name (st_nlink > 1) */
  PW_C_SHARED = 14, /**< parts of large folders whose names were handed to
                         idle workers (report, walk, repair) */
  PW_C_OUT_WRITING = 15, /**< report: workers in a write to the output now
                              (waiting for it to take more, or for its lock) */
  PW_C_COUNT = 16   /**< size of the counter array */
} pw_counter;

/** Error-detail codes: which operation failed. */
typedef enum pw_op {
  PW_OP_OPEN = 1,  /**< opening a folder */
  PW_OP_READ = 2,  /**< listing a folder (getdents) */
  PW_OP_STAT = 3,  /**< stat of an entry (vanished, ...) */
  PW_OP_WRITE = 4, /**< writing the output */
  PW_OP_CHANGE = 5, /**< repair/chown: the entry could not be opened for its change */
  PW_OP_RACE = 6,  /**< repair/chown: entry replaced while being examined; err 0: its
                        mode changed by someone else between the chmod and its read-back */
  PW_OP_ANCESTOR = 7, /**< repair: no ancestor with a shared group */
  PW_OP_LOOP = 8,  /**< walk with follow: a folder of its own walked path (link cycle);
                        repair/chown (a notice, err 0): the root reached again (a bind
                        mount inside the tree), neither changed nor entered */
  PW_OP_CHOWN = 9, /**< repair/chown: an owner or group change the system refused
                        (the entry's mode is then left as it was too) */
  PW_OP_CHMOD = 10, /**< repair/chown: a mode change the system refused (or a setgid
                         bit it dropped) */
  PW_OP_ACL = 11,  /**< repair: an entry's access ACL gives its group less than the
                        mode's group bits show (they are the ACL's mask): a notice; with an
                        errno, the ACL could not be read to tell */
  PW_OP_CAPABILITY = 12, /**< repair/chown: a file with capabilities, which the kernel drops
                        on a change of owner or group (repair leaves it alone): a notice */
  PW_OP_LINKS = 13, /**< repair: a file with hard links in folders of two shared groups
                         (it takes the group of the folder above the name reached first,
                         which its message names): a notice */
  PW_OP_DEVICE = 14, /**< repair: a character or block device the rules would change
                          (group or group access to it is access to the device: a disk
                          or memory node copied into a project); left alone: a notice */
  PW_OP_HARDLINKS = 15, /**< repair: a file with hard links the rules would change, one of
                          whose names the walk did not reach (outside ROOT, or in a folder
                          not entered), or whose names changed during the run or just
                          before it: its names elsewhere would open with it; left
                          alone: a notice, when the walk ends (or when it was to change) */
  PW_OP_ACL_NAMED = 16, /**< repair: an entry whose access ACL names users or groups the
                          mask keeps out, and whose wider group bits (the mask) would let
                          them in, beyond the project's group; left alone: a notice; with
                          an errno, the ACL could not be read to tell: left alone too */
  PW_OP_SETID = 17, /**< repair --force-group-writable: a setuid or setgid file that keeps
                          its group, not made group-writable (a member could rewrite it
                          and run that as its owner); the other rules applied: a notice */
} pw_op;

typedef struct pw_opts pw_opts;
typedef struct pw_job pw_job;

PW_API const char *pw_version(void);
/** SHA-256 (hex) of the native/ sources this library was built from: source_id.c. */
PW_API const char *pw_source_id(void);
PW_API pw_opts *pw_opts_new(void);
PW_API void pw_opts_free(pw_opts *o);
/** Returns 0, or -EINVAL for an unknown key or a value out of range. */
PW_API int32_t pw_opts_set_int(pw_opts *o, int32_t key, int64_t value);
/**
 * Returns 0, -ENOMEM, or -EINVAL (an unknown key, a NUL byte in s, s
 * NULL with len > 0).  s NULL with len 0 is "" (Deno passes an empty
 * Uint8Array so): nothing is read through it.
 */
PW_API int32_t pw_opts_set_str(pw_opts *o, int32_t key, const uint8_t *s, size_t len);

/** Start a pwalk CSV report.  Returns NULL only when out of memory; any
 *  other failure is a job that ends PW_FAILED (see pw_job_message). */
PW_API pw_job *pw_report_start(const pw_opts *o);
/**
 * Start a walk producing binary batches (see channel.h for the format).
 * With PW_OPT_HOLD the caller decides which subfolders are entered
 * (pw_walk_descend): walkDirs' pruning and walk's `skip`.
 */
PW_API pw_job *pw_walk_start(const pw_opts *o);
/** Start a repair (docs/repair.md) or, with PW_OPT_CHOWN_FROM, pwalk's chown. */
PW_API pw_job *pw_repair_start(const pw_opts *o);

/**
 * Files for the native side (journal.c).  pw_fd_open opens the existing
 * path for appending (never created: -ENOENT; never through a symlink) and
 * returns an fd or -errno, for PW_OPT_ERRORS_CSV_FD and friends; pw_fd_close flushes a file
 * to disk (when it can be) and closes any fd this library handed out.
 */
PW_API int32_t pw_fd_open(const uint8_t *path, size_t len);
/**
 * pw_fd_open for a FIFO, pipe or character device the caller holds open
 * already (--errors /dev/fd/63 of >(cmd)): links followed (a descriptor's
 * name in /dev/fd is one), never waited for (a FIFO or pipe whose reader
 * has left: -ENXIO); the caller checks the fd is the file it holds.
 */
PW_API int32_t pw_fd_open_direct(const uint8_t *path, size_t len);
PW_API int32_t pw_fd_close(int32_t fd);
/**
 * Whether the folder at path can be opened and listed, as a walk's root is
 * (dir.c): opened (links followed) and its first names read, 0, or the
 * -errno of the open or the read.  A folder that opens but cannot be read
 * (/proc/PID/map_files of a process not traced, a FUSE server failing
 * READDIR, a damaged folder: EIO) fails here, not as a walk of one row.
 */
PW_API int32_t pw_dir_probe(const uint8_t *path, size_t len);
/**
 * End the process killed by signal sig (its default action restored,
 * unblocked, sent to the process), as a program stopped by Ctrl-C ends;
 * _exit(128 + sig) if that did not end it.  Never returns.
 */
PW_API void pw_die_by_signal(int32_t sig);
/**
 * Whether this process is in the foreground of the terminal on fd (its
 * process group is the terminal's: tcgetpgrp(fd) == getpgrp()): 1, 0 when
 * a shell has put it in the background (Ctrl-Z, bg; or `&`), -1 when fd is
 * no terminal.
 */
PW_API int32_t pw_foreground(int32_t fd);
/**
 * Whether modes can be changed safely here (through an entry's O_PATH
 * descriptor: /proc/self/fd, or fchmodat2 where /proc is not mounted): 1
 * or 0.  repair --apply and undo refuse to start without it.
 */
PW_API int32_t pw_can_change_modes(void);
/**
 * Open a journal for PW_OPT_JOURNAL_FD: read+append, never through a
 * symbolic link (-ELOOP), never blocking on a FIFO.  With PW_JOURNAL_NEW a
 * new file is made (O_CREAT | O_EXCL, mode 0600; -EEXIST when the name is
 * taken); without it an existing file is opened, or a new one made.  With
 * PW_JOURNAL_READ (undo) an existing file is opened read-only, the same
 * way (never made).  What the fd is goes to info[0..6]: device, inode,
 * st_mode, owner uid, size, 1 when it was made now or starts with a
 * journal header (else 0: an existing empty file too), 1 when it was made
 * now.  A journal (made now or with a header) that is a regular file of
 * the caller's that nobody else may write is locked (flock while fd is
 * open, exclusive, or shared with PW_JOURNAL_READ: -EWOULDBLOCK when
 * another run holds it; unlocked where the file system has no locks).
 * Nothing is cut or written: the caller decides whether to use it
 * (lib/journal_file.ts: a regular file of the running user, writable by
 * nobody else, whose lines undo would read), then cuts a torn last line
 * (pw_journal_cut) of one it appends to, and closes it with pw_fd_close.
 * Returns the fd or -errno.
 */
PW_API int32_t pw_journal_open(const uint8_t *path, size_t len, int32_t flags, int64_t *info);

/** pw_journal_open flags. */
typedef enum pw_journal_flags {
  PW_JOURNAL_NEW = 1,  /**< a new file only (O_EXCL) */
  PW_JOURNAL_READ = 2, /**< an existing file, read-only (undo) */
} pw_journal_flags;

/**
 * Cut a torn last line (no newline: a run killed mid-write) off the
 * journal open at fd (pw_journal_open, accepted by the caller), lest the
 * next header be glued to it.  Returns the file's size after, or -errno.
 */
PW_API int64_t pw_journal_cut(int32_t fd);
/** pread(2) of up to len bytes at offset: the bytes read (0 at the end) or -errno. */
PW_API int64_t pw_fd_read(int32_t fd, uint8_t *buf, size_t len, uint64_t offset);

/**
 * Undo, step 1: the ROOT of a journal's run, an absolute canonical path,
 * opened from `/` one component at a time without following any link; it
 * must still be the folder of device dev and inode ino.  Returns an fd
 * (for pw_restore; close it with pw_fd_close) or -errno (-ESTALE: another
 * folder is there now; -ELOOP/-ENOTDIR: a link on the way).
 */
PW_API int32_t pw_restore_root(const uint8_t *path, size_t len, uint64_t dev, uint64_t ino);
/**
 * Undo one journal line below the root open at rootfd: rel is the line's
 * path (no empty, "." or ".." component; "." for the root itself), and v =
 * {dev, ino, S_IFMT type, old uid, old gid, old mode, new uid, new gid, new
 * mode, out: the mode put back or kept, out: the uid, gid and mode it
 * leaves (or would), in: 1 to judge (in a dry run) from the uid, gid and
 * mode that follow instead of the entry's own, those three, in: 1 when a
 * newer line of the journal gave the file another owner or group or others
 * write, in: 1 when the line has the entry's birth time (journal version
 * 2; 0: none, "-" or version 1), its seconds and nanoseconds, out: the
 * mode found} (22 values;
 * on a birth time that differs, -ESTALE with v[18] set to 2): a dry run of
 * a journal of several runs passes what
 * the newer lines' restores would have left.  rel is reached from rootfd
 * component by component without
 * following any link and must still be the same dev+inode.  Owner+group,
 * and mode, are each restored only while they still hold the journal's new
 * values; a setuid/setgid bit is never put back on an entry whose owner or
 * group is no longer the journal's new one, nor its old one (the mode is
 * then kept, PW_RESTORE_SETID_KEPT), nor on a file that someone besides
 * its owner could have written since the run (the run, or a newer one:
 * v[17], gave it another owner, or group or others write; or it is under
 * its old owner and group again, chowned back by hand: the mode goes back
 * without those bits, PW_RESTORE_SETID_WRITABLE), nor setgid on a file owned by
 * anyone but root, which its owner could have rewritten while the bit was
 * off (the mode goes back without it, PW_RESTORE_SETGID_OWNER), nor a bit
 * the entry lost since the run, its mode otherwise the run's (the mode
 * goes back without it, PW_RESTORE_SETID_LOST); a mode whose group bits
 * taken off would shut out users or groups its access ACL names (given
 * access by its owner since the run) is kept, PW_RESTORE_ACL_KEPT; owner
 * and group are kept too when a mode kept gives the group access the old
 * mode did not (and others lack), which the old group, unless it is the
 * old owner's own (gid = uid), would get, PW_RESTORE_GROUP_KEPT; a file
 * already so, under its old owner and group, undone before or chowned back
 * since, is left as it is, with that bit alone.  Changes nothing unless apply.  Returns
 * PW_RESTORE_* bits or -errno (-ESTALE: a different entry is there now,
 * or one born since under the same inode number (v[18] 2);
 * -ELOOP/-ENOTDIR: a link on the way; -EINVAL: a bad path).
 */
PW_API int32_t pw_restore(int32_t rootfd, const uint8_t *rel, size_t len, int64_t *v,
                          int32_t apply);

/** Bits of pw_restore's result. */
typedef enum pw_restore_bits {
  PW_RESTORE_OWNER = 1,     /**< owner/group put back (or would be) */
  PW_RESTORE_MODE = 2,      /**< mode put back (or would be) */
  PW_RESTORE_OWNER_KEPT = 4, /**< owner/group changed since: left alone */
  PW_RESTORE_MODE_KEPT = 8, /**< mode changed since: left alone */
  PW_RESTORE_SETID_KEPT = 16, /**< mode kept because it would put setuid/setgid
                                   on an entry someone else owns now (with
                                   PW_RESTORE_MODE: the rest of the mode put
                                   back, those bits not) */
  PW_RESTORE_SETID_WRITABLE = 32, /**< mode put back without the setuid/setgid
                                       bits: others could have rewritten the
                                       file since (another owner, or group or
                                       others write) */
  PW_RESTORE_SETGID_OWNER = 64, /**< mode put back without setgid: the file's
                                     owner (not root) could have rewritten
                                     it since the run */
  PW_RESTORE_SETID_LOST = 128, /**< mode put back (or left) without the
                                    setuid/setgid bits the entry lost since
                                    the run (a chmod, a chown or a write
                                    took them off) */
  PW_RESTORE_ACL_KEPT = 256, /**< mode kept: the group bits it would take off
                                  (the ACL's mask) would shut out users or
                                  groups its access ACL names */
  PW_RESTORE_GROUP_KEPT = 512, /**< owner/group kept (the run's still): the
                                    mode, kept, gives the group access the
                                    old mode did not, which the old group
                                    (not the old owner's own) would get */
} pw_restore_bits;

/**
 * The name of user (kind 0) or group (kind 1) id, as getpwuid_r /
 * getgrgid_r give it, into buf (at most cap bytes).  Returns its full
 * length, 0 when the id has no name, or -errno.
 */
PW_API int64_t pw_id_name(int32_t kind, uint32_t id, uint8_t *buf, size_t cap);
/**
 * Send one message to the system log (syslog.c): facility authpriv,
 * severity notice, tag "pwalk[PID]", to the datagram (or stream) socket
 * $PWALK_SYSLOG_SOCKET, else the system's (/dev/log).  Control bytes in msg
 * are sent as '?'.  0, or -errno when it could not be sent.
 */
PW_API int32_t pw_syslog(const uint8_t *msg, size_t len);

/** Block until the job ends; returns a pw_status. */
PW_API int32_t pw_job_wait(pw_job *j);
/** Ask the job to stop; returns at once.  Safe from any thread, repeatable. */
PW_API void pw_job_cancel(pw_job *j);
/** Copy PW_C_COUNT live counters into out (approximate while running). */
PW_API void pw_job_progress(pw_job *j, uint64_t *out);
/**
 * The path of a folder being read now (the most recent one a worker
 * started), copied into buf (at most cap bytes; its last bytes when
 * longer: "...tail" is the caller's to show; buf may be NULL when cap
 * is 0).  Returns the full length, 0 when none.  For progress lines:
 * approximate, never per entry.
 */
PW_API int64_t pw_job_current(pw_job *j, uint8_t *buf, size_t cap);
/** Number of error details kept (at most PW_OPT_MAX_ERRORS). */
PW_API uint32_t pw_job_error_count(pw_job *j);
/**
 * Copy error detail i into buf as "op\0message\0errno\0path" (errno in
 * decimal, 0 for a notice) and return its full
 * length (which may exceed cap: call again with a bigger buffer), or -1.
 */
PW_API int64_t pw_job_error(pw_job *j, uint32_t i, uint8_t *buf, size_t cap);
/**
 * The fatal message of a PW_FAILED job (or ""), copied into buf when it
 * fits in cap bytes (buf may be NULL when cap is 0), and its errno via
 * *err (err may be NULL).  Returns the message's full length.
 */
PW_API int64_t pw_job_message(pw_job *j, uint8_t *buf, size_t cap, int32_t *err);
/**
 * Jobs with records (walks; repairs with PW_OPT_RECORDS): give back the
 * batch handed out last, block until the next one is full (or the job
 * ended), and describe it in out[0..6] (see channel.h).  The batch stays
 * valid until the next call or pw_job_free.  Returns 1 with a batch, 0 at
 * the end (or when cancelled), and 0 at once for jobs without records.
 */
PW_API int32_t pw_job_next(pw_job *j, uint64_t *out);
/**
 * Held walks (PW_OPT_HOLD): enter the subfolders of the folder whose row
 * carried token, those i with mask[i] != 0, in listing order of the ones
 * to be entered (n of them); the others are never entered; a NULL mask
 * enters all of them.  Each token is answered once.  Returns 0, or -EINVAL for an unknown token or count.
 */
PW_API int32_t pw_walk_descend(pw_job *j, uint32_t token, const uint8_t *mask, uint32_t n);
/** Cancel if still running, wait for every thread, free everything. */
PW_API void pw_job_free(pw_job *j);

#endif
