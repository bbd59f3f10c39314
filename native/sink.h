/*
 * sink.h — where report bytes go: a file or an fd, plain or zstd.
 *
 * Owns: the output file's life (written under a temporary name beside it,
 * renamed into place only when the report succeeded, removed otherwise), and
 * zstd compression.  Workers hand over whole chunks of rows; with zstd each
 * chunk becomes one independent zstd frame, compressed on the worker's own
 * thread with a context from a small pool (at most one per CPU), so
 * compression runs in parallel without extra threads.  Concatenated frames
 * are one valid zstd stream: `zstd -d` and DuckDB read it as a whole.
 */
#ifndef PW_SINK_H
#define PW_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opts.h"

typedef struct pw_sink pw_sink;

/**
 * Open the output named by o (o->output, else o->output_fd) for chunks of at
 * most chunk bytes.  Returns 0, or -errno with a message in msg.
 */
int pw_sink_open(pw_sink **out, const struct pw_opts *o, int nthreads, size_t chunk,
                 char *msg, size_t msgcap);
/** Write one chunk (thread-safe).  Returns 0 or -errno. */
int pw_sink_write(pw_sink *s, const char *buf, size_t len);
/** The descriptor the output is written to. */
int pw_sink_fd(const pw_sink *s);
/** Bytes written to the output so far. */
uint64_t pw_sink_bytes(pw_sink *s);
/**
 * End the output: when commit, rename the temporary file into place;
 * otherwise remove it.  Returns 0 or -errno with a message in msg.
 */
int pw_sink_finish(pw_sink *s, bool commit, char *msg, size_t msgcap);
void pw_sink_free(pw_sink *s);

#endif
