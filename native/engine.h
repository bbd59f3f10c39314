/*
 * engine.h — the parallel walker as visitors see it.
 *
 * A job walks one tree with a pool of worker threads (job.c: life cycle,
 * threads, counters, errors; walker.c: the work of one folder).  What to do
 * with each entry belongs to a *visitor*: report.c formats CSV rows,
 * walk.c encodes records for the Deno async generator, repair.c changes
 * owners and modes.  A visitor's hooks run on the worker's own thread with
 * the worker's own state, so the engine takes no lock and makes no
 * allocation per entry.
 *
 * Visitors reach the job and the worker only through the accessors below;
 * the structs are the engine's own (job.h).
 */
#ifndef PW_ENGINE_H
#define PW_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "entry.h"
#include "opts.h"
#include "pwalk.h"

typedef struct pw_worker pw_worker;

/** What a job does with entries.  Every hook is optional but entry. */
typedef struct pw_visitor {
  /** Whole-job setup after the root was found and before the threads start,
      with pw_job_start's arg: 0, or -errno after calling pw_job_fail. */
  int (*job_init)(pw_job *j, void *arg);
  /** Per-worker setup (buffers); 0 or -errno. */
  int (*worker_start)(pw_worker *w);
  /** One entry (non-folder, or a folder's own row). */
  void (*entry)(pw_worker *w, const pw_entry *e);
  /** Visitor state for a subfolder, computed from its parent's. */
  uint64_t (*child_user)(pw_worker *w, uint64_t parent_user, const struct stat *st);
  /** The worker is about to wait for work: hand over what it holds back
      (a walk's partial batch, whose rows a held walk waits on). */
  void (*idle)(pw_worker *w);
  /** A share of a shared folder (share_listings) is done and another
      worker will write the folder's row: hand over the entries buffered so
      far, so that they come out before that row (a folder's row follows
      its entries).  NULL = the visitor's output has no such order. */
  void (*flush)(pw_worker *w);
  /** Per-worker teardown on the worker's thread: flush what is buffered. */
  void (*worker_end)(pw_worker *w);
  /** Free per-worker state (also for workers whose thread never ran). */
  void (*worker_free)(pw_worker *w);
  /** An error was recorded on this worker (after the error log has it). */
  void (*error)(pw_worker *w, int op, int err, const char *path, size_t len);
  /** Every worker thread has ended (called on the last one's thread). */
  void (*workers_done)(pw_job *j);
  /** The job was cancelled or failed: wake anything the visitor blocks on. */
  void (*cancel)(pw_job *j);
  /** Whole-job teardown after every worker ended (close outputs). */
  void (*job_end)(pw_job *j, int status);
  /** Whole-job free. */
  void (*job_free)(pw_job *j);
  /** pw_job_next: hand out the next batch of records (channel.h), or NULL
      for jobs without records. */
  int32_t (*next)(pw_job *j, uint64_t *out);
  /** Were workers kept waiting by the consumer of the records since the
      last call, or is one waiting now (channel.h)?  NULL = never.  A
      governed job adds no readers while they are. */
  bool (*held_back)(pw_job *j);
  /** A large folder's names may be statted by several workers at once
      (handed to idle ones), each calling entry for its share; the folder's
      own row still comes after all of them.  Not with PW_OPT_HOLD or
      PW_OPT_SUBDIRS, whose records follow one listing's order. */
  bool share_listings;
  /** A name whose stat is refused (EACCES: a folder that may be read but
      not searched) is still handed to entry after its error, with its
      listing's type and inode only (no_stat), as @std/fs walk and os.walk
      list it.  Not for a vanished name (ENOENT), nor one of unknown type. */
  bool keep_unstatted;
  /** A subfolder that is the root itself again (its device and inode: a
      bind mount of the root, or of a folder above it, inside the tree) is
      not entered: handed to entry as a folder that is no row (is_dir_row
      false), after a PW_OP_LOOP notice (err 0).  One compare per folder
      listed.  (Repair and chown: the root is never changed through a
      second path; walks and reports list it again, as pwalk, os.walk and
      @std/fs walk do.) */
  bool root_once;
} pw_visitor;

/**
 * Create a job from options, run the visitor's job_init(j, arg) and start
 * the threads.  NULL only when out of memory; any other failure (no root,
 * an unusable output) is a job that ends PW_FAILED with its message.
 */
pw_job *pw_job_start(const pw_opts *o, const pw_visitor *vis, void *arg);

/* ---- the job, for visitors ---------------------------------------------- */

/** The job's own copy of its options. */
const struct pw_opts *pw_job_opts(const pw_job *j);
/** The visitor's job-wide state (set in job_init). */
void *pw_job_ctx(const pw_job *j);
void pw_job_set_ctx(pw_job *j, void *ctx);
/** Worker threads of the job (known from job_init on). */
int pw_job_threads(const pw_job *j);
/** The root folder's stat, and the root's path as printed (no trailing '/'). */
const struct stat *pw_job_root_stat(const pw_job *j);
const char *pw_job_root(const pw_job *j, size_t *len);
/** Visitor state the root folder starts with (job_init only). */
void pw_job_set_root_user(pw_job *j, uint64_t user);
/** Leave the file of this stat out of the walk, under every name (a file
    the job made: its temporary output, a journal). */
void pw_job_skip_file(pw_job *j, const struct stat *st);
/** Leave out the regular file at path, under that name only (a file the job
    will replace: its other hard-linked names stay rows).  Nothing there, or
    no regular file: nothing to leave out. */
void pw_job_skip_path(pw_job *j, const char *path);
/** pw_job_skip_path for the file name in the folder dirfd. */
void pw_job_skip_at(pw_job *j, int dirfd, const char *name);
/** A folder a root_once visitor (repair, chown) never changes nor enters,
    wherever a mount inside the tree shows it (job_init only): the folders
    above the root, the folders of its journal and errors file.  At most
    PW_GUARD_MAX; more are not guarded. */
void pw_job_guard(pw_job *j, const struct stat *st);
/** Whether st is a folder pw_job_guard named. */
bool pw_job_guarded(const pw_job *j, const struct stat *st);
/** Cancelled or failed: stop producing. */
bool pw_job_stopping(const pw_job *j);
/** A fatal error was recorded. */
bool pw_job_failed(const pw_job *j);
/** job_end (its status PW_OK) gave up its output for a cancel that came
    after that status was fixed (the final write still waited for a FIFO's
    reader or for room in a pipe): the job ends PW_CANCELLED, as a cancel
    before it would, not PW_OK and not failed. */
void pw_job_end_cancelled(pw_job *j);
/** Record a fatal error and cancel the walk (the first one wins). */
void pw_job_fail(pw_job *j, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Bytes written to the output so far (report). */
void pw_job_set_out_bytes(pw_job *j, uint64_t n);
/** A worker begins (+1) or ends (-1) a write to the output (report). */
void pw_job_out_writing(pw_job *j, int delta);
/** Record an error that is not a worker's walking error (repair's changes):
    counted and streamed, without the visitor's error hook. */
void pw_job_note_error(pw_job *j, int op, int err, const char *path, size_t len);
/** pw_job_note_error of a notice (err 0) with a message of its own (one line). */
void pw_job_note_text(pw_job *j, int op, const char *path, size_t len, const char *text);
/** pwalk's "Bad File: <path>" notice on the error stream. */
void pw_job_badname(pw_job *j, const char *path, size_t len);
/** Whether err is the tool's lack of a resource, not a fact of the tree:
    out of file descriptors (EMFILE, ENFILE) or of kernel memory (ENOMEM).
    An entry or folder not reached for it fails the job (pw_worker_error):
    going on would leave it out of a run that ends as if complete. */
bool pw_out_of_resources(int err);
/** Out of descriptors (err EMFILE or ENFILE): wait for one to come free, as
    they do when workers finish their folders.  *waited (0 at the first
    call) counts the milliseconds slept; true: try again, false (at once
    for any other err) once 10 s in all have gone or the job is stopping. */
bool pw_job_wait_fd(const pw_job *j, int err, long *waited);

/* ---- the worker, for visitors ------------------------------------------- */

pw_job *pw_worker_job(const pw_worker *w);
/** The visitor's per-worker state slot. */
void **pw_worker_state(pw_worker *w);
/** Add to one of the worker's counters (published every 256 entries and once per folder). */
void pw_count(pw_worker *w, int counter, uint64_t n);
/** Record an error met by the worker (error log, then the visitor's hook);
    one that pw_out_of_resources says is the tool's fails the job. */
void pw_worker_error(pw_worker *w, int op, int err, const char *path, size_t len);

#endif
