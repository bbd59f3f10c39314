/*
 * changes.h — the lines a repair or chown prints for a change: repair-
 * shared's format (`PATH: group 1042 (alice) -> 5000 (genome)`, `PATH: mode
 * 0600 -> 0640`, `PATH: setgid added`), pwalk's bare path for chown; in a
 * dry run each line starts "would change: " and a regular file with other
 * names (hard links) is flagged.  Also the rule both the lines and the
 * counters follow: a folder's added setgid bit is told on its own line.
 */
#ifndef PW_CHANGES_H
#define PW_CHANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "entry.h"
#include "journal.h"
#include "names.h"

/** A folder gains the setgid bit (told on its own line). */
bool pw_setgid_added(const pw_change *p, bool dir);
/** The new mode as the mode line shows it (without an added setgid bit). */
uint32_t pw_shown_mode(const pw_change *p, bool dir);
/** An entry other than a folder with other names (a file, a FIFO, a socket...): changing
    it changes them all. */
bool pw_hard_linked(const struct stat *st);

/** Bytes pw_change_lines writes at most for a path of len bytes. */
static inline size_t pw_change_lines_bound(size_t len) { return 3 * (4 * len + 256); }

/**
 * The lines for change p of entry e (its stat st) into out (at least
 * pw_change_lines_bound(e->len) bytes); returns their length.  Each line
 * starts with the path, ": " in it written ":\x20".  chown: the
 * path, and the mode the kernel's chown
 * leaves (or would) when it takes setuid/setgid off; dry_run: "would change: " first, hard links
 * flagged; group names from the worker's cache.
 */
size_t pw_change_lines(char *out, bool chown, bool dry_run, pw_names *names, const pw_entry *e,
                       const struct stat *st, const pw_change *p);

#endif
