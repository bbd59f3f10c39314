/*
 * journal.h — the journal of a repair or chown: one line per changed entry,
 * written before the change, so that undo can put everything back.
 *
 * Owns: the format (version 2; lib/journal.ts parses it and version 1,
 * undo.c applies them), the line formatter, and writing a line whole or
 * not at all.
 *
 * ASCII lines; a path is written with every byte <= 0x20, >= 0x7f and the
 * backslash as \xHH, so any name (newlines, non-UTF-8) is one exact line:
 *
 *   #pwalk-journal 2 KIND MODE ROOTDEV ROOTINO ROOT
 *   DEV INO T OLDUID OLDGID OLDMODE NEWUID NEWGID NEWMODE BIRTH PATH
 *
 * KIND is repair or chown, MODE apply or dry-run, ROOT the root's real
 * path (no links), T one of d f l p s c b, modes four octal digits (07777
 * bits), BIRTH the entry's birth time as SECONDS.NANOSECONDS (nine digits)
 * read at its change (statx STATX_BTIME), "-" where the file system gives
 * none, on overlayfs (the change copies an entry of a lower layer up: same
 * inode number, a new birth time) or in a dry run: undo leaves alone a file born since, which reuses
 * the inode number of the one changed (version 1 had no BIRTH field),
 * PATH relative to ROOT ("." for the root itself).  An entry line is
 * appended with a single write() before its change is made, so a crash
 * leaves a line for every change that may have happened; the lines are
 * fdatasync'ed at least every PWALK_JOURNAL_SYNC_MS (default 1000; 0:
 * after each line), so a power loss loses at most that much.
 */
#ifndef PW_JOURNAL_H
#define PW_JOURNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/** One entry's change: old and new owner, group and permission bits. */
typedef struct pw_change {
  uint32_t ouid, ogid, omode;
  uint32_t nuid, ngid, nmode;
} pw_change;

static inline bool pw_change_empty(const pw_change *c) {
  return c->ouid == c->nuid && c->ogid == c->ngid && c->omode == c->nmode;
}

/** The journal's type letter of a file type (d f l p s c b, ? otherwise). */
char pw_type_char(mode_t m);

/** Bytes a journal line for a path of len bytes needs at most. */
static inline size_t pw_journal_bound(size_t len) { return 4 * len + 192; }

/** An entry's birth time (known: false where the file system gives none). */
typedef struct pw_btime {
  bool known;
  int64_t sec;
  uint32_t nsec;
} pw_btime;

/**
 * The entry line for st (its dev, inode and type) changed as c, born at
 * *bt (NULL or unknown: "-"), with rel the path below the root (NULL: the
 * root itself, written "."), into out (pw_journal_bound(rel_len) bytes);
 * returns its length, newline included.
 */
size_t pw_journal_line(char *out, const struct stat *st, const pw_change *c, const pw_btime *bt,
                       const char *rel, size_t rel_len);

/**
 * Write the header of a run (kind "repair" or "chown") to fd: the root's
 * stat and real path.  0 or -errno.
 */
int pw_journal_header(int fd, const char *kind, bool apply, const struct stat *root,
                      const char *real);

/**
 * Append one line with one write(), whole or not at all: after a short
 * write (a full disk) the file is cut back to where the line began.
 * 0 or -errno (-ENOSPC for a short write).
 */
int pw_journal_append(int fd, const char *line, size_t n);

/**
 * A thread that syncs a journal's lines once they are PWALK_JOURNAL_SYNC_MS
 * old when no later line came to sync them (a burst of changes, then a
 * long walk over entries already right): without it they would wait for
 * the file's final fsync.  It looks a few times per interval (the appends
 * themselves make no system call to time it).
 */
typedef struct pw_journal_syncer {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int fd;
  bool running, stop;
} pw_journal_syncer;

/**
 * Start fd's syncer (none with PWALK_JOURNAL_SYNC_MS=0: each line is
 * synced).  0 or -errno (no thread: the lines are synced by the next line,
 * or at the end, as before).  A sync it makes that fails is returned by fd's
 * next pw_journal_append, or else by pw_journal_syncer_stop.
 */
int pw_journal_syncer_start(pw_journal_syncer *s, int fd);

/** Stop and join it (no-op if it never started): 0, or -errno of a sync of
    its that failed and that no append has told. */
int pw_journal_syncer_stop(pw_journal_syncer *s);

#endif
