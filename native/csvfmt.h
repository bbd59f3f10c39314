/*
 * csvfmt.h — pwalk's CSV row, byte for byte (docs/csv-format.md).
 *
 * Owns: the header line, the row layout
 *   %ju,%ju,%ld,"%s","%s",%ld,%ld,%ld,%ld,%ld,%d,"%07o",%ld,%ld,%ld,%ld,%ld\n
 * with pwalk's quoting (a '"' doubled, bytes below 32 dropped), the file
 * extension rule, and integer formatting without printf.
 */
#ifndef PW_CSVFMT_H
#define PW_CSVFMT_H

#include <stdbool.h>
#include <stddef.h>

#include "entry.h"

#define PW_CSV_HEADER                                                                   \
  "inode,parent-inode,directory-depth,\"filename\",\"fileExtension\",UID,GID,st_size," \
  "st_dev,st_blocks,st_nlink,\"st_mode\",st_atime,st_mtime,st_ctime,pw_fcount,pw_dirsum\n"

/** Upper bound of the bytes pw_csv_row writes for a path of len bytes. */
static inline size_t pw_csv_bound(size_t len) { return 4 * len + 512; }

/**
 * A folder's path escaped once for every row of its listing (see
 * pw_entry.listing).  Zero-initialise; free with pw_csv_prefix_free.
 */
typedef struct pw_csv_prefix {
  uint64_t listing; /**< the listing it was made for; 0 = none yet */
  char *q;          /**< path[0, name_off) escaped, without the opening '"' */
  size_t len;       /**< bytes in q */
  size_t cap;       /**< q's capacity */
  bool bad;         /**< the folder part held bytes below 32 */
} pw_csv_prefix;

void pw_csv_prefix_free(pw_csv_prefix *pfx);

/**
 * Format e's row into out (at least pw_csv_bound(e->len) bytes); returns the
 * bytes written.  *bad is set when the path held bytes below 32 (dropped).
 * pfx (NULL for none) caches the escaped folder part between rows of the
 * same listing: one worker's rows, one pfx.
 */
size_t pw_csv_row(char *out, const pw_entry *e, pw_csv_prefix *pfx, bool *bad);

/**
 * Copy len bytes of s to out without its bytes below 32 (the CSV field's
 * value, unquoted; *bad set when any was dropped); returns the end.
 */
char *pw_drop_controls(char *out, const char *s, size_t len, bool *bad);

/** The extension of a non-folder's base name (pwalk's rule); sets *len. */
const char *pw_extension(const char *name, size_t name_len, size_t *len);

#endif
