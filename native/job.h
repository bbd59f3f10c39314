/*
 * job.h — the engine's own view of a job and its workers (job.c, walker.c
 * only; visitors use engine.h).
 *
 * Owns: struct pw_job (options, queue, error log, excluded folders, worker
 * threads, the reader governor, status and fatal error, counters) and
 * struct pw_worker (its listing stream, path buffer, local counters and the
 * visitor's per-worker state).
 */
#ifndef PW_JOB_H
#define PW_JOB_H

#include <pthread.h>
#include <stdatomic.h>

#include "dir.h"
#include "engine.h"
#include "errlog.h"
#include "govern.h"
#include "queue.h"

/** The default worker count (see README: measured on warm and cold local
 *  disks and on slowfs): this many threads, of which one per CPU read at
 *  first; the governor lets more read while that does more work (govern.h). */
#define PW_DEFAULT_THREADS 64
/** Worker threads at most (PW_OPT_THREADS' bound): listing numbers leave room for them. */
#define PW_MAX_WORKERS 1024

/** Per-thread counters, read racily (relaxed atomics) by pw_job_progress. */
typedef struct pw_counters {
  _Atomic uint64_t c[PW_C_COUNT];
} pw_counters;

struct pw_worker {
  pw_job *job;
  pthread_t thread;
  pw_dirstream ds;            /**< listing buffer */
  char *path;                 /**< path buffer: folder path + '/' + name */
  size_t path_cap;
  uint64_t listings;          /**< folders listed by this worker (pw_entry.listing) */
  uint64_t local[PW_C_COUNT]; /**< counts not yet published */
  pw_counters pub;            /**< published every 256 entries and once per folder */
  void *vstate;               /**< the visitor's per-worker state */
  pw_item **held;             /**< held walks: the listing's subfolders to be entered */
  uint32_t nheld, held_cap;
  atomic_int tid;             /**< the thread's Linux id once it runs, else 0 (the governor
                                   reads its run-queue wait) */
  bool ds_ready, vis_ready;   /**< ds set up, the visitor's worker_start done: kept when
                                   the thread's start fails, for a later try (spawn) */
  char pad[64];               /**< keep workers' hot fields on separate lines */
};

/** A file the walk leaves out (one of the job's own files). */
typedef struct pw_skip {
  uint64_t dev, ino;         /**< the file */
  uint64_t dir_dev, dir_ino; /**< with a name: the folder that holds it */
  char *name;                /**< NULL: every name of the file (a file of the job's
                                  own making); else only this name in that folder
                                  (a file about to be replaced: its other
                                  hard-linked names stay rows).  Owned by the job */
} pw_skip;

/* Files a job leaves out, at most: every PW_OPT_SKIP_FD, the errors file,
   every PW_OPT_SKIP_PATH, and its own: a report's output and the file it
   replaces, a repair's journal.  All of them fit: one dropped would be a
   row of the job's own output. */
#define PW_SKIP_MAX (PW_SKIP_FDS_MAX + 1 + PW_SKIP_PATHS_MAX + 3)

/* Folders pw_job_guard keeps, at most: a root 254 folders deep, and two. */
#define PW_GUARD_MAX 256

struct pw_job {
  struct pw_opts *opts;
  const pw_visitor *vis;
  void *vctx;                 /**< visitor's job-wide state */
  pw_queue queue;
  pw_errlog errors;
  pw_strset excludes;
  int nthreads;               /**< workers the job may have (the thread count) */
  atomic_int nstarted;        /**< worker threads started so far (a governed job
                                   starts them as the governor lets more read) */
  pthread_mutex_t spawn_mu;   /**< one worker started at a time */
  int spawn_err;              /**< why the first worker start that failed did (errno; under spawn_mu) */
  pthread_attr_t attr;        /**< the workers' thread attributes */
  bool governed;              /**< default thread count: readers governed (govern.h) */
  pw_governor gov;
  int nalloc;                 /**< workers set up (their buffers allocated) */
  atomic_int live;            /**< worker threads not yet ended */
  pw_worker *workers;
  _Atomic uint64_t out_bytes; /**< report: bytes written so far */
  atomic_int out_writing;     /**< report: workers in a write to the output now */
  pw_skip skip[PW_SKIP_MAX];  /**< files left out: own output, journal, errors file */
  int nskip;
  struct { uint64_t dev, ino; } guard[PW_GUARD_MAX]; /**< pw_job_guard's folders */
  int nguard;
  dev_t root_dev;
  struct stat root_st;        /**< the root's stat (the root may be a link to a folder) */
  size_t root_len;            /**< the root as printed: trailing slashes dropped */
  pw_item *root;              /**< the root item until the workers start */
  int root_fd;                /**< the root, opened by pw_job_start (its stat is this
                                   descriptor's), until its worker lists it or a
                                   shard's frontier takes it as front_fd; -1 none */
  pw_item *front, *front_last; /**< a shard's frontier folders, walked instead */
  int front_fd;               /**< with a frontier: the root, which they are opened from */
  size_t nfront;
  atomic_int status;          /**< pw_status once ended, -1 while running */
  atomic_bool cancelled;
  int fatal_err;              /**< errno of a fatal error */
  char fatal_msg[512];        /**< its message */
  atomic_bool failed;         /**< fatal_msg is set */
  pthread_mutex_t fatal_mu;
  bool started;               /**< threads were created */
  bool waited;                /**< pw_job_wait has joined them */
  bool end_cancelled;         /**< job_end gave up for a late cancel (pw_job_end_cancelled) */
  pthread_mutex_t wait_mu;
  uint64_t final[PW_C_COUNT];
  pthread_mutex_t hold_mu;    /**< guards the held groups */
  struct pw_held *holds;      /**< held groups of subfolders, by token - 1 */
  uint32_t nholds;            /**< slots in holds */
  uint32_t hold_free;         /**< a free slot's token, 0 = none (a free list) */
  pthread_mutex_t cur_mu;     /**< guards cur (trylock by workers, once per folder) */
  char cur[1024];             /**< a folder being read (its last bytes) */
  size_t cur_len;             /**< its full length */
};

/** A held group of subfolders (PW_OPT_HOLD), waiting for pw_walk_descend. */
typedef struct pw_held {
  pw_item **items;            /**< in listing order; NULL = a free slot */
  uint32_t n;
  uint32_t next_free;         /**< free slots: the next free token */
} pw_held;

/** Hold a listing's n subfolders (items taken over); the token, or 0 when
    out of memory (the job then fails and the items are freed). */
uint32_t pw_job_hold(pw_job *j, pw_item **items, uint32_t n);
/** Open frontier folder it (flags, and O_NOFOLLOW) from the root one name at
    a time, following no link: an fd, or -1 with errno. */
int pw_job_open_front(const pw_job *j, const pw_item *it, int flags);
/** A worker thread (walker.c). */
void *pw_worker_main(void *arg);
/** Grow the worker's path buffer to need bytes; false when out of memory. */
bool pw_path_reserve(pw_worker *w, size_t need);

#endif
