/*
 * opts.h — the options of a job (struct pw_opts) and the exclude set.
 *
 * Owns: option storage and validation behind pw_opts_set_*, copying options
 * into a job, and the read-only hash set of excluded folder paths that the
 * workers query without a lock.
 */
#ifndef PW_OPTS_H
#define PW_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A list of byte strings (excluded folders, frontier folders). */
typedef struct pw_strlist {
  char **items;   /**< NUL-terminated copies */
  size_t *lens;   /**< their lengths */
  size_t n;
} pw_strlist;

/** A read-only set of byte strings (excluded folder paths). */
typedef struct pw_strset {
  char **slots;   /**< open addressing table, NULL = empty slot */
  size_t *lens;   /**< length of each slot's string */
  size_t mask;    /**< table size - 1 (a power of two), 0 when empty */
  size_t count;   /**< strings stored */
} pw_strset;

/* At most this many PW_OPT_SKIP_FD, and PW_OPT_SKIP_PATH (lib/options.ts
   says the same); a job's array of files left out holds them all (job.h). */
#define PW_SKIP_FDS_MAX 8
#define PW_SKIP_PATHS_MAX 8
/* PW_OPT_GUARD_PATH values, at most. */
#define PW_GUARD_PATHS_MAX 8

struct pw_opts {
  int threads;         /**< 0 = default */
  bool header;         /**< --header */
  bool nosnap;         /**< --NoSnap */
  int64_t maxdepth;    /**< --depth N, 0 = unlimited */
  int64_t leaf_depth;  /**< folders at this depth or deeper are entries, not entered (-1: the root); INT64_MAX off */
  bool one_fs;         /**< -x */
  int compress;        /**< a pw_compress */
  int level;           /**< compression level, 0 = the kind's default */
  int output_fd;       /**< -1 = none */
  int error_fd;        /**< -1 = none */
  uint32_t max_errors; /**< details kept */
  bool follow;         /**< follow symlinks to folders (walk only) */
  uint32_t batch_bytes; /**< walk batch size */
  uint32_t batches;    /**< walk batches in flight */
  bool apply;          /**< repair/chown: change things */
  bool force_gw;       /**< repair: --force-group-writable */
  int64_t chown_from;  /**< -1 = not chown mode */
  int64_t chown_uid, chown_gid;
  int64_t *change_gids; /**< repair --change-gids */
  size_t n_change_gids;
  int journal_fd;      /**< -1 = none */
  int changes_fd;      /**< -1 = none */
  bool records;        /**< repair/chown: change records through pw_job_next */
  bool hold;           /**< subfolders wait for pw_walk_descend */
  bool no_stat;        /**< names and types only */
  bool link_dirs;      /**< tell links to folders */
  bool subdirs;        /**< walk: subfolders as listed, too (subdir_ref entries) */
  bool names_only;     /**< walk: entry and subdir records carry the base name only */
  bool error_clear;    /**< error lines start with "\r\x1b[K" (a progress line there) */
  bool bare_dot;       /**< walk: no "./" before the paths below a root of "." */
  bool canonical;      /**< walk with follow: a followed link under its real path */
  int skip_fds[PW_SKIP_FDS_MAX]; /**< files the walk leaves out (PW_OPT_SKIP_FD) */
  int n_skip_fds;
  int errors_csv_fd;   /**< every error as a CSV row; -1 = none */
  char *root;          /**< NUL-terminated copy */
  size_t root_len;
  char *output;        /**< NULL = none */
  char *root_real;     /**< PW_OPT_ROOT_REAL, NULL = none */
  pw_strlist excludes; /**< raw list, turned into a pw_strset by the job */
  pw_strlist frontier; /**< "DEV INO PARENT_INO DEPTH PATH" (PW_OPT_FRONTIER) */
  pw_strlist skip_paths; /**< files left out by name (PW_OPT_SKIP_PATH) */
  pw_strlist guard_paths; /**< folders repair guards (PW_OPT_GUARD_PATH) */
  uint64_t *dev_from;  /**< PW_OPT_DEV_MAP: rows on device dev_from[i] */
  uint64_t *dev_to;    /**< print dev_to[i] as their st_dev */
  size_t n_dev_map;
};

/** st_dev as a report's row prints it: PW_OPT_DEV_MAP's number for a mapped device. */
static inline uint64_t pw_opts_row_dev(const struct pw_opts *o, uint64_t dev) {
  for (size_t i = 0; i < o->n_dev_map; i++)
    if (o->dev_from[i] == dev) return o->dev_to[i];
  return dev;
}

/** Deep copy; returns NULL when out of memory. */
struct pw_opts *pw_opts_clone(const struct pw_opts *o);
/** Build a set from the exclude list; returns -ENOMEM on failure. */
int pw_strset_build(pw_strset *s, char *const *strs, const size_t *lens, size_t n);
bool pw_strset_has(const pw_strset *s, const char *str, size_t len);
void pw_strset_free(pw_strset *s);

#endif
