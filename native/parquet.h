/*
 * parquet.h — the report as typed Parquet (`-o scan.parquet`).
 *
 * Owns: pwalk's 17 columns as Parquet types (the names of pwalk's header;
 * the types of lib/answers/scan.ts's TYPED_COLUMNS: inode UBIGINT, depth
 * INTEGER, UID UINTEGER, st_mode UINTEGER, ...), row groups built by each
 * worker from its own rows (PLAIN encoding, one zstd-compressed data page
 * per column, every column REQUIRED), each column chunk's statistics (min
 * and max in its type's order, text cut to 64 bytes), and the file's footer
 * (FileMetaData in Thrift's compact protocol).
 *
 * A row holds what DuckDB reads from the same row of the CSV report: the
 * names with control bytes dropped (pwalk's rule), and in a row whose name
 * is not UTF-8 every byte of its names that is not part of a UTF-8
 * character written as the four characters `\xNN` (lowercase hex; the rule
 * `pwalk convert` follows, since Parquet text must be UTF-8).  Rows keep no
 * order, as the CSV's.
 *
 * Workers never wait for each other: a full row group is compressed on the
 * worker's thread and appended to the output in one write; only the
 * directory of row groups (a few dozen bytes each) is shared, under a lock.
 */
#ifndef PW_PARQUET_H
#define PW_PARQUET_H

#include <stdbool.h>
#include <stdint.h>

#include "entry.h"
#include "sink.h"

/** The output file's first (and last) four bytes. */
#define PW_PARQUET_MAGIC "PAR1"

typedef struct pw_pq pw_pq;           /**< one Parquet file: its row groups so far */
typedef struct pw_pq_rows pw_pq_rows; /**< one worker's rows not yet written */

/** A file with no row groups yet (NULL when out of memory). */
pw_pq *pw_pq_new(void);
void pw_pq_free(pw_pq *pq);

/**
 * A worker's empty row buffer for pq (NULL when out of memory).  Each
 * worker's row groups hold 16,384 rows while at most 8 workers were
 * started, fewer beyond (down to 2,048), so that rows in waiting stay
 * within about 40 MiB.
 */
pw_pq_rows *pw_pq_rows_new(pw_pq *pq);
void pw_pq_rows_free(pw_pq_rows *r);

/**
 * Add e's row; *bad is set when its names held control bytes (dropped).
 * 0, or -ENOMEM.  When it returns 1 the buffer is full: pw_pq_flush it.
 */
int pw_pq_add(pw_pq_rows *r, const pw_entry *e, bool *bad);

/** Write r's rows (if any) as one row group through s, and empty r.  0 or -errno. */
int pw_pq_flush(pw_pq *pq, pw_pq_rows *r, pw_sink *s);

/** After every flush: write the footer (the schema and the row groups' directory). */
int pw_pq_finish(pw_pq *pq, pw_sink *s);

#endif
