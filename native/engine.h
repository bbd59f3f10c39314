/*
 * engine.h — the parallel walker shared by report, walk and repair.
 *
 * Owns: the job (options, queue, error log, worker threads, status), the
 * per-folder work of a worker (open the folder through a path of any length,
 * list it with getdents64, fstatat each name without following links, apply
 * pwalk's skip rules, count pw_fcount/pw_dirsum, queue subfolders) and the
 * job life cycle behind pw_job_wait / pw_job_cancel / pw_job_free.
 *
 * What to do with each entry belongs to a visitor (report.c formats CSV
 * rows, batch.c encodes walk batches, repair.c changes owners and modes),
 * called on the worker's own thread with the worker's own state: the engine
 * takes no lock and makes no allocation per entry.
 */
#ifndef PW_ENGINE_H
#define PW_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "dir.h"
#include "errlog.h"
#include "govern.h"
#include "opts.h"
#include "pwalk.h"
#include "queue.h"

typedef struct pw_worker pw_worker;

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
  bool via_link;        /**< reached through a followed symlink (walk's follow) */
  bool subdir_ref;      /**< a subfolder as seen in its parent's listing (only
                             for visitors with subdir_refs); its own row
                             comes later, from the worker that reads it */
  bool raced;           /**< folder rows: the folder was replaced between its
                             listing and its opening; nothing may be changed */
} pw_entry;

/** What a job does with entries. */
typedef struct pw_visitor {
  /** Per-worker setup (buffers); 0 or -errno. */
  int (*worker_start)(pw_worker *w);
  /** One entry (non-folder, or a folder's own row). */
  void (*entry)(pw_worker *w, const pw_entry *e);
  /** Visitor state for a subfolder, computed from its parent's. */
  uint64_t (*child_user)(pw_worker *w, uint64_t parent_user, const struct stat *st);
  /** Per-worker teardown on the worker's thread: flush what is buffered. */
  void (*worker_end)(pw_worker *w);
  /** Free per-worker state (also for workers whose thread never ran). */
  void (*worker_free)(pw_worker *w);
  /** May a subfolder be entered?  NULL = always (walk's `skip`). */
  bool (*descend)(pw_worker *w, const char *path, size_t len, const struct stat *st);
  /** An error was recorded on this worker (after the error log has it). */
  void (*error)(pw_worker *w, int op, int err, const char *path, size_t len);
  /** Every worker thread has ended (called on the last one's thread). */
  void (*workers_done)(pw_job *j);
  /** The job was cancelled or failed: wake anything the visitor blocks on. */
  void (*cancel)(pw_job *j);
  /** Also hand subfolders to entry() as subdir_ref entries (walkDirs). */
  bool subdir_refs;
  /** Whole-job teardown after every worker ended (close outputs). */
  void (*job_end)(pw_job *j, int status);
  /** Whole-job free. */
  void (*job_free)(pw_job *j);
} pw_visitor;

/** Per-thread counters, read racily (relaxed atomics) by pw_job_progress. */
typedef struct pw_counters {
  _Atomic uint64_t c[PW_C_COUNT];
} pw_counters;

struct pw_worker {
  pw_job *job;
  pthread_t thread;
  pw_dirstream ds;     /**< listing buffer */
  char *path;          /**< path buffer: folder path + '/' + name */
  size_t path_cap;
  uint64_t listings;    /**< folders listed by this worker (pw_entry.listing) */
  uint64_t local[PW_C_COUNT]; /**< counts not yet published */
  pw_counters pub;     /**< published once per folder */
  void *vstate;        /**< the visitor's per-worker state */
  char pad[64];        /**< keep workers' hot fields on separate lines */
};

struct pw_job {
  struct pw_opts *opts;
  const pw_visitor *vis;
  void *vctx;            /**< visitor's job-wide state */
  pw_queue queue;
  pw_errlog errors;
  pw_strset excludes;
  int nthreads;          /**< threads running (after launch) */
  bool governed;         /**< default thread count: readers governed (govern.h) */
  pw_governor gov;
  int nalloc;            /**< workers allocated */
  atomic_int live;       /**< worker threads not yet ended */
  pw_worker *workers;
  _Atomic uint64_t out_bytes; /**< report: bytes written so far */
  bool verify_dirs;      /**< check each opened folder is the one listed (repair) */
  pthread_mutex_t visited_mu; /**< follow mode: folders seen, by dev+inode */
  uint64_t *visited;     /**< open addressing pairs (dev, ino); 0,0 = empty */
  size_t visited_cap, visited_n;
  dev_t root_dev;
  pw_item *root;         /**< the root item until the workers start */
  atomic_int status;     /**< pw_status once ended, -1 while running */
  atomic_bool cancelled;
  int fatal_err;         /**< errno of a fatal error */
  char fatal_msg[512];   /**< its message */
  pthread_mutex_t fatal_mu;
  bool started;          /**< threads were created */
  bool waited;           /**< pw_job_wait has joined them */
  pthread_mutex_t wait_mu;
  uint64_t final[PW_C_COUNT];
  pthread_mutex_t cur_mu; /**< guards cur (trylock by workers, once per folder) */
  char cur[1024];         /**< a folder being read (its last bytes) */
  size_t cur_len;         /**< its full length */
};

/** The default worker count (see README: measured on local disk and slowfs):
 *  this many threads, of which one per CPU read at first (govern.h). */
#define PW_DEFAULT_THREADS 16

/** Create a job from options; NULL only when out of memory.  Sets a fatal
 *  error (no threads) when the root is unusable. */
pw_job *pw_job_create(const pw_opts *o, const pw_visitor *vis);
/** Start the worker threads (no-op after a fatal error). */
void pw_job_launch(pw_job *j);
/** Record a fatal error and cancel the walk (first one wins). */
void pw_job_fail(pw_job *j, int err, const char *fmt, ...);
/** Record an error met by worker w (error log, then the visitor's hook). */
void pw_worker_error(pw_worker *w, int op, int err, const char *path, size_t len);
/** Add to a worker's local counter. */
static inline void pw_count(pw_worker *w, int c, uint64_t n) { w->local[c] += n; }

#endif
