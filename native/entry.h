/*
 * entry.h — one entry as the walker hands it to a visitor.
 *
 * Owns only the type: the walker fills it, the visitors (report.c,
 * walk.c, repair.c) and the CSV formatter (csvfmt.c) read it, and none of
 * them needs the engine's internals for that.
 */
#ifndef PW_ENTRY_H
#define PW_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/** One entry handed to a visitor.  Valid only during the call. */
typedef struct pw_entry {
  const char *path;     /**< full path, NUL-terminated */
  size_t len;           /**< path length */
  size_t name_off;      /**< where the base name starts in path */
  uint64_t listing;     /**< nonzero for entries of one folder's listing: the
                             same value (per worker) means the same bytes in
                             path[0, name_off); 0 = no such promise */
  const struct stat *st;
  uint64_t parent_ino;  /**< inode of the holding folder; 0 for the root */
  int32_t depth;        /**< pwalk's directory-depth (root -1) */
  bool is_dir_row;      /**< a folder's own row, after its listing */
  int64_t fcount;       /**< folder rows: names listed; else -1 */
  int64_t dirsum;       /**< folder rows: sum of children's st_size; else 0 */
  int dirfd;            /**< non-folders: fd of the holding folder */
  int selffd;           /**< folder rows: the folder's own fd, -1 if unreadable */
  uint64_t user;        /**< the folder's inherited visitor state */
  bool via_link;        /**< reached through a followed symlink (walk's follow): the
                             entry is one, or is below one */
  bool subdir_ref;      /**< a subfolder as seen in its parent's listing (only
                             with PW_OPT_SUBDIRS); its own row
                             comes later, from the worker that reads it */
  bool raced;           /**< folder rows: the folder was replaced between its
                             listing and its opening; nothing may be changed */
  bool no_stat;         /**< only the type is known (PW_OPT_NO_STAT): st holds
                             st_mode's type bits and st_ino, nothing else */
  bool link_dir;        /**< a symbolic link to a folder (PW_OPT_LINK_DIRS) */
  uint64_t group;       /**< the listing the entry came from (entries and subdir
                             refs), or the folder's own listing (folder rows):
                             one number per folder read, unique in the job */
  uint64_t parent_group;/**< folder rows: the listing of the folder above
                             (0 for the root and a shard's frontier folders) */
  uint32_t hold;        /**< folder rows of a held walk: the token that answers
                             for its subfolders (pw_walk_descend), 0 = none;
                             subdir refs: 1 + its index among the folder's
                             subfolders to be entered, 0 = not entered */
} pw_entry;

#endif
