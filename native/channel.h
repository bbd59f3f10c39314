/*
 * channel.h — the one way records travel from the workers to JavaScript:
 * walk's entries and errors, repair's and chown's changes.
 *
 * Owns: a bounded pool of batches (backpressure: when every batch is full
 * and JavaScript has not taken them, workers wait), made as they are first
 * needed, one per writer and a few more, so that a walk whose workers grow
 * late (the governor) pays for their batches only then; the ready queue that
 * pw_job_next hands out one batch at a time (full batches, and when the
 * reader has nothing else, a batch as it is: pw_channel_offer), and the
 * record layout below
 * (lib/decode.ts decodes it; keep the two in step).
 *
 * A batch has three regions, handed out by pw_job_next as
 * out[0..6] = { rec address, rec bytes, str address, str bytes,
 *               raw address, raw bytes, record count }:
 *  - rec: fixed 144-byte little-endian records;
 *  - str: the UTF-8 paths of the batch back to back, decoded by JavaScript
 *         with one TextDecoder call per batch; records point into it with
 *         UTF-16 offsets so each path is a cheap string slice;
 *  - raw: paths that are not valid UTF-8, as bytes, and error messages.
 * A batch is handed on before a record would take rec or str past its
 * capacity (batch_bytes, more once a path bigger than a batch grew it) or
 * raw past batch_bytes (whatever raw's capacity: an error's message may
 * still pass it, by that message).  A batch's first record always goes
 * in, however big (its regions grow to fit), but no region passes 4 GiB
 * (ENOMEM: offsets are u32).
 *
 * Every record starts with (offsets in bytes):
 *    0 u32 kind (PW_REC_*) | flags (PW_RECF_*)
 *    4 u32 path offset: UTF-16 units into str, or bytes into raw (NOT_UTF8);
 *          with PW_OPT_NAMES_ONLY entries and subfolders carry base names
 *          alone (base name offset 0): a run of names, joined by '/'
 *          (see 124)
 *    8 u32 path length: UTF-16 units, or bytes (NOT_UTF8)
 *   12 u32 base name offset within the path, same units
 * Entries (ENTRY, DIR, SUBDIR) go on:
 *   16 i32 depth (pwalk's directory-depth; root -1)
 *   20 u32 st_mode   24 u32 st_uid   28 u32 st_gid   32 f64 st_nlink
 *   40 f64 st_size   48 f64 st_ino   56 f64 st_dev   64 f64 st_blocks
 *   72 f64 parent inode
 *   80 f64 atime ms  88 f64 mtime ms  96 f64 ctime ms (epoch, fractional)
 *  104 f64 pw_fcount (folders; else -1)   112 f64 pw_dirsum (else 0)
 *  120 u32 hold: DIR rows of a held walk, the token answering for the
 *          folder's subfolders (pw_walk_descend), 0 = nothing to answer;
 *          SUBDIR, 1 + its index among the subfolders to be entered,
 *          0 = not entered (walk's last level, a link cycle)
 *  124 u32 names in the path: 1, or with PW_OPT_NAMES_ONLY the length of
 *          a run of entries (or of subfolders) of one listing with the same
 *          kind, flags and st_mode type, whose holds count up from the
 *          first (or are all 0); the other fields of a run (16-119 but the
 *          depth and the type bits of st_mode, and 136) are 0
 *  128 f64 group: the listing the entry came from (ENTRY, SUBDIR), or the
 *          folder's own (DIR): one number per folder read, unique in the job
 *  136 f64 parent group (DIR): the listing of the folder above; 0 for the
 *          root and a shard's frontier folders
 * Errors (ERROR):
 *   20 u32 pw_op   24 u32 errno   28 u32 message length in raw
 *   32 f64 message offset in raw
 * Changes (CHANGE), what a repair or chown changed (or would change):
 *   20 u32 new st_mode (type bits and permission bits)
 *   24 u32 new uid   28 u32 new gid   48 f64 st_ino   56 f64 st_dev
 *  104 u32 old permission bits (07777)  108 u32 old uid  112 u32 old gid
 */
#ifndef PW_CHANNEL_H
#define PW_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PW_REC_SIZE 144

enum pw_rec_kind {
  PW_REC_ENTRY = 0,  /**< a non-folder entry */
  PW_REC_DIR = 1,    /**< a folder's own row, after its listing */
  PW_REC_SUBDIR = 2, /**< a subfolder as listed by its parent (walkDirs) */
  PW_REC_ERROR = 3,  /**< an error; the walk goes on */
  PW_REC_CHANGE = 4, /**< repair/chown: one entry's change */
};

enum pw_rec_flag {
  PW_RECF_VIA_LINK = 1 << 4, /**< reached through a followed symlink */
  PW_RECF_NOT_UTF8 = 1 << 5, /**< the path is in raw, as bytes */
  PW_RECF_LINK_DIR = 1 << 6, /**< a symbolic link to a folder (PW_OPT_LINK_DIRS) */
  PW_RECF_NO_STAT = 1 << 7,  /**< only the type (and inode) is known */
};

typedef struct pw_channel pw_channel;
typedef struct pw_batch pw_batch;

/**
 * A pool of at most max batches of batch_bytes each, `spare` of them
 * allowed at first, one more with each pw_channel_add_writer; none is
 * allocated until a writer needs it.  NULL when out of memory.
 */
pw_channel *pw_channel_new(int max, int spare, size_t batch_bytes);
/** One more writer (a worker thread starting): one more batch allowed. */
void pw_channel_add_writer(pw_channel *c);
void pw_channel_free(pw_channel *c);

/**
 * Writers (workers), each with its own current batch *cur (start NULL):
 * append a record of kind (with flags) for path (len bytes, base name at
 * name_off) and return it: PW_REC_SIZE bytes, the first 16 filled, the rest the
 * writer's to fill (not zeroed: entries set every field anyway).  NULL
 * when the channel was cancelled (*err = 0) or memory ran out (*err =
 * ENOMEM).  The record may be filled until the writer's next call.
 */
uint8_t *pw_channel_put(pw_channel *c, pw_batch **cur, uint32_t kind, const char *path,
                        size_t len, size_t name_off, int *err);
/**
 * Names-only walks (walkDirs): append the base name of an entry or a
 * subfolder (kind with flags; type = its st_mode type bits) of listing
 * `group`: one more name in the batch's last record when that is a run it
 * continues (see the layout above), else a new record with only the
 * fields a run has.  0, or ENOMEM, or ECANCELED (cancelled).
 */
int pw_channel_put_name(pw_channel *c, pw_batch **cur, uint32_t kind, const char *name,
                        size_t len, uint32_t type, int32_t depth, uint32_t hold,
                        uint64_t group);
/** Append n bytes to the raw region of b; their offset in *off.  0 or ENOMEM. */
int pw_channel_raw(pw_batch *b, const char *s, size_t n, uint32_t *off);
/**
 * A writer pauses (a folder ended, or it waits for work): the reader may
 * take its batch as it is if it has nothing else (the writer's next call
 * takes it back, or a new one when it was taken), so that what was
 * written reaches the reader without waiting for the batch to fill.  A
 * reader that waits with nothing ready also makes the next writer to
 * append hand over its batch as it is (one relaxed load per record).
 */
void pw_channel_offer(pw_channel *c, pw_batch **cur);
/** A writer is done: its batch goes to the reader (submit) or back to the pool. */
void pw_channel_release(pw_channel *c, pw_batch **cur, bool submit);
/**
 * Were writers kept waiting for a free batch (backpressure: the reader is
 * what holds them up, not the file system) since the last call, or is one
 * waiting now?  For the governor, its only caller.
 */
bool pw_channel_held_back(pw_channel *c);
/** Every writer is done: the reader gets 0 once the ready batches are taken. */
void pw_channel_close(pw_channel *c);
/** Stop: writers and the reader return at once. */
void pw_channel_cancel(pw_channel *c);
/**
 * The reader: give back the batch handed out last, block until the next
 * one is ready (or the channel closed), and describe it in out[0..6].
 * Returns 1 with a batch, 0 at the end (or when cancelled).
 */
int32_t pw_channel_next(pw_channel *c, uint64_t *out);

/** Little-endian stores into a record. */
static inline void pw_put_u32(uint8_t *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
static inline void pw_put_f64(uint8_t *p, double v) { __builtin_memcpy(p, &v, 8); }

#endif
