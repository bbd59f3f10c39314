/*
 * sink.h — where report bytes go: a file, a device, a FIFO or an fd, as
 * plain CSV, zstd or gzip, or bytes laid out by the caller (Parquet).
 *
 * Owns: what an output name may be and how each kind is written.
 * Every name is reached through its folder, resolved component by
 * component (resolve.h): a link the kernel's fs.protected_symlinks would
 * not follow (another user's, in a sticky folder such as /tmp) is refused,
 * in any component, whatever that sysctl says.
 *  - a new name or a regular file: written under a temporary name beside it
 *    (beside the file a symbolic link names, when it is one), renamed into
 *    place only when the report succeeded, removed otherwise; an existing
 *    file's permission bits, and owner and group where allowed (root), are
 *    given to the new one;
 *  - a character or block device, or a FIFO (also through a link): opened
 *    and written directly, as the shell's `>` does; nothing is renamed.  A
 *    FIFO with no reader yet is opened at the first write, on a worker
 *    thread, polling so that a cancel still ends the wait;
 *  - a folder, a socket or a dangling symbolic link: refused.
 * And compression: workers hand over whole chunks of rows; each chunk
 * becomes one independent zstd frame or gzip member, compressed on the
 * worker's own thread with a context from a small pool (at most one per
 * CPU), so compression runs in parallel without extra threads.  Chunks
 * under 64 KiB (a shared folder's part handed over, a worker's last rows)
 * are gathered, in the order written, into one frame that is written
 * before the next larger chunk: many tiny frames would compress poorly.
 * Concatenated frames (members) are one valid zstd (gzip) stream: `zstd -d`,
 * `gzip -d` and DuckDB read it as a whole.
 */
#ifndef PW_SINK_H
#define PW_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "opts.h"

typedef struct pw_sink pw_sink;

/**
 * Open the output named by o (o->output, else o->output_fd) for chunks of at
 * most chunk bytes, compressed as o->compress says at o->level.  head (may
 * be empty) is written first, as its own chunk.  Returns 0, or -errno with a
 * one-line message in msg.
 */
int pw_sink_open(pw_sink **out, const struct pw_opts *o, int nthreads, size_t chunk,
                 const char *head, size_t head_len, char *msg, size_t msgcap);
/** Write one chunk (thread-safe).  Returns 0, -ECANCELED after
 *  pw_sink_cancel while waiting for a FIFO's reader or for a full pipe or
 *  FIFO to take more, or -errno. */
int pw_sink_write(pw_sink *s, const char *buf, size_t len);
/**
 * Write len raw bytes (thread-safe, as one piece) and tell at which offset
 * of the output they start (the bytes written before them, head included).
 * For outputs that lay out their own bytes (Parquet).  0 or -errno.
 */
int pw_sink_append(pw_sink *s, const char *buf, size_t len, uint64_t *offset);
/**
 * Compress len bytes of src into one zstd frame in dst (cap at least
 * ZSTD_compressBound(len)) with one of the sink's contexts (zstd and
 * Parquet sinks only); its size in *n.  0 or -errno.
 */
int pw_sink_zstd(pw_sink *s, const void *src, size_t len, void *dst, size_t cap, size_t *n);
/** The output's name as given ("the output" for an fd), for messages. */
const char *pw_sink_name(const pw_sink *s);
/**
 * The files the report must leave out of itself.  The regular file it is
 * written to (the temporary file, a file written in place, or standard
 * output redirected into a file, `pwalk /data > /data/scan.csv`): true and
 * its stat in st; false for a pipe, FIFO, terminal or device.
 */
bool pw_sink_file(const pw_sink *s, struct stat *st);
/**
 * The existing file the report will replace, by the name it is renamed
 * onto (through a link: the file it names) in the folder *dirfd (valid
 * until pw_sink_finish), or NULL.
 */
const char *pw_sink_replaced(const pw_sink *s, int *dirfd);
/** Bytes written to the output so far (a write cut short counts its part). */
uint64_t pw_sink_bytes(pw_sink *s);
/** Stop waiting for a FIFO's reader, or for a full pipe or FIFO to take
 *  more; no write begins after it (any thread, any time). */
void pw_sink_cancel(pw_sink *s);
/**
 * End the output: when commit, write what is pending and rename the
 * temporary file into place; otherwise remove it.  Returns 0 or -errno with
 * a message in msg.
 */
int pw_sink_finish(pw_sink *s, bool commit, char *msg, size_t msgcap);
void pw_sink_free(pw_sink *s);

#endif
