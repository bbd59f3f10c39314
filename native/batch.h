/*
 * batch.h — the walk job: entries encoded into binary batches for the Deno
 * async generator (lib/walk.ts decodes them; keep the two in step).
 *
 * Owns: a fixed pool of batches (backpressure: when every batch is full and
 * JavaScript has not taken them, workers wait), the ready queue that
 * pw_walk_next hands out one batch at a time, and the record layout below.
 *
 * A batch has three regions, handed out by pw_walk_next as
 * out[0..6] = { rec address, rec bytes, str address, str bytes,
 *               raw address, raw bytes, record count }:
 *  - rec: fixed 128-byte little-endian records, one per entry;
 *  - str: the UTF-8 paths of the batch back to back, decoded by JavaScript
 *         with one TextDecoder call per batch; records point into it with
 *         UTF-16 offsets so each path is a cheap string slice;
 *  - raw: paths that are not valid UTF-8, as bytes, and error messages.
 *
 * Record layout (offsets in bytes):
 *    0 u32 kind (PW_REC_*) | flags (PW_RECF_*)
 *    4 u32 path offset: UTF-16 units into str, or bytes into raw (NOT_UTF8)
 *    8 u32 path length: UTF-16 units, or bytes (NOT_UTF8)
 *   12 u32 base name offset within the path, same units
 *   16 i32 depth (pwalk's directory-depth; root -1)
 *   20 u32 st_mode            (errors: pw_op)
 *   24 u32 st_uid             (errors: errno)
 *   28 u32 st_gid             (errors: message length in raw)
 *   32 f64 st_nlink           (errors: message offset in raw)
 *   40 f64 st_size   48 f64 st_ino   56 f64 st_dev   64 f64 st_blocks
 *   72 f64 parent inode
 *   80 f64 atime ms  88 f64 mtime ms  96 f64 ctime ms (epoch, fractional)
 *  104 f64 pw_fcount (folders; else -1)   112 f64 pw_dirsum (else 0)
 *  120 u32 0  124 u32 0 (reserved)
 */
#ifndef PW_BATCH_H
#define PW_BATCH_H

#define PW_REC_SIZE 128

enum pw_rec_kind {
  PW_REC_ENTRY = 0,  /**< a non-folder entry */
  PW_REC_DIR = 1,    /**< a folder's own row, after its listing */
  PW_REC_SUBDIR = 2, /**< a subfolder as listed by its parent (walkDirs) */
  PW_REC_ERROR = 3,  /**< an error; the walk goes on */
};

enum pw_rec_flag {
  PW_RECF_VIA_LINK = 1 << 4, /**< reached through a followed symlink */
  PW_RECF_NOT_UTF8 = 1 << 5, /**< the path is in raw, as bytes */
};

#endif
