/*
 * queue.h — the shared queue of folders waiting to be read.
 *
 * Owns: the folder items (path + the folder's own stat from its parent's
 * listing + a counted reference to the parent's open descriptor, so that a
 * folder is opened by its name relative to the folder that listed it, not
 * by its full path), the budget of such descriptors, a LIFO stack of items
 * under one mutex (depth-first order keeps the
 * number of waiting folders small), idle/busy accounting to detect the end of
 * the walk, the limit of workers reading at once, and waking every worker
 * on cancel.  Workers take the lock once
 * per folder and push a folder's subfolders in batches, never per entry.
 */
#ifndef PW_QUEUE_H
#define PW_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/**
 * An open folder that queued subfolders keep open until each has opened
 * itself relative to it.  The lister holds one reference while listing,
 * each queued subfolder one; the last one out closes the fd.
 */
typedef struct pw_dirref {
  atomic_int refs;
  int fd;
} pw_dirref;

struct pw_item;

/**
 * A folder whose names are statted by several workers: its lister hands
 * parts of a large listing to idle workers (walker.c).  The folder's row
 * comes from whichever of them finishes last, with the summed counts.
 */
typedef struct pw_split {
  atomic_int refs;        /**< owners: the lister and each part item */
  atomic_int todo;        /**< the lister and the parts not yet done */
  _Atomic int64_t fcount; /**< names of the finished shares, summed */
  _Atomic int64_t dirsum; /**< their sizes, summed */
  struct pw_item *it;     /**< the folder (owned: freed with the split) */
  pw_dirref *ref;         /**< its open descriptor (one reference) */
  uint64_t key;           /**< its listing number */
  int32_t cdepth;         /**< the depth column of its entries */
  bool skip_deep_dirs, leaf_dirs; /**< as the lister's */
} pw_split;

/**
 * Follow mode: one folder of a walked path, for the cycle test.  Each
 * folder's item holds a reference to its own node, and each node one to the
 * node above it, so a path's nodes live as long as a folder below it waits.
 */
typedef struct pw_anc {
  struct pw_anc *up;     /**< the folder above on the walked path; NULL: the root */
  uint64_t dev, ino;     /**< the folder (a followed link's target) */
  int64_t ctime_sec;     /**< its change time (0.0: not known, a listing's facts) */
  long ctime_nsec;
  atomic_int refs;
} pw_anc;

/** A node for the folder st below up (taking a reference to up); NULL when
    out of memory. */
pw_anc *pw_anc_new(pw_anc *up, const struct stat *st);
/** Drop a reference (NULL: nothing), freeing the nodes no one holds. */
void pw_anc_put(pw_anc *a);
/** Whether st is a or a folder above it, by device and inode: entering it
    would be a cycle.  PW_ANC_SAME: so, and their change times agree (or
    one is not known); PW_ANC_OTHER_CTIME: the nearest such folder has
    another change time.  That is still a cycle (repair's chmod of the
    folder above changes its ctime before its loop below is met), but for a
    FUSE server passing its source's inode numbers through, which puts the
    root folders of the source's nested mounts (each one inode 1, 2 or 128)
    on one device: the caller asks the file system (pw_anc_cycle). */
enum { PW_ANC_NONE = 0, PW_ANC_SAME = 1, PW_ANC_OTHER_CTIME = 2 };
int pw_anc_find(const pw_anc *a, const struct stat *st);

/** A folder to read.  Allocated once per folder, freed by the worker. */
typedef struct pw_item {
  struct pw_item *next;  /**< stack link */
  pw_split *split;       /**< a part of a shared listing (names below), or NULL */
  char *names;           /**< the part's getdents64 records (owned) */
  long names_len;        /**< their bytes */
  pw_dirref *parent;     /**< the parent's open folder (a reference), or NULL:
                              then opened by its full path (the root, or when
                              the descriptor budget was spent) */
  size_t name_off;       /**< where the base name starts in path */
  struct stat st;        /**< the folder's own lstat, from its parent */
  uint64_t parent_ino;   /**< the parent folder's inode (0 for the root) */
  uint64_t user;         /**< visitor state inherited down the tree */
  uint64_t group;        /**< the listing of its parent (pw_entry.group); 0 none */
  int32_t depth;         /**< depth column of the folder's own row */
  bool is_root;          /**< the root (may be reached through a symlink) */
  bool front;            /**< a shard's frontier folder: opened from the root
                              one name at a time (pw_job_open_front) */
  bool via_link;         /**< its path is a followed symlink (opened following it) */
  bool below_link;       /**< it, or a folder above it, is a followed symlink */
  bool no_stat;          /**< st is only the listing's type and inode */
  pw_anc *anc;           /**< a reference: following links, this folder on its
                              walked path (from its listing); else the folders
                              above it, then, once opened, this one too
                              (walker.c walked_once); NULL: none known */
  size_t len;            /**< path length */
  char path[];           /**< NUL-terminated full path */
} pw_item;

typedef struct pw_queue {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pw_item *top;          /**< stack of waiting folders */
  size_t waiting;        /**< folders on the stack */
  int busy;              /**< workers reading a folder */
  int limit;             /**< at most this many read at once (govern.h) */
  int sleepers;          /**< workers blocked in pw_queue_pop */
  atomic_bool stop;      /**< cancelled: pop returns NULL at once */
  size_t held;           /**< groups of subfolders held for an answer (PW_OPT_HOLD):
                              the walk is not over while any is */
  atomic_bool hungry;    /**< a worker waits that could read now: nothing
                              on the stack, fewer readers than the limit,
                              someone asleep (set under the lock at every
                              change of these; read without it as a hint:
                              listers share a large folder's names while
                              it is true) */
  atomic_int dirrefs;    /**< folder descriptors this job keeps open for subfolders */
  int dirref_budget;     /**< at most this many in the whole process (a share of
                              RLIMIT_NOFILE), every job's together */
} pw_queue;

int pw_queue_init(pw_queue *q);
void pw_queue_fini(pw_queue *q);
/** Allocate an item for path (len bytes); NULL when out of memory. */
pw_item *pw_item_new(const char *path, size_t len);
/** Free an item, dropping its reference to its parent's folder (a part:
    its names and its reference to the split). */
void pw_item_free(pw_queue *q, pw_item *it);
/**
 * Keep fd (an open folder) for its subfolders, with one reference for the
 * caller; NULL when the budget of such descriptors is spent (the caller
 * then keeps fd to itself and its subfolders are opened by path).
 */
pw_dirref *pw_dirref_new(pw_queue *q, int fd);
static inline void pw_dirref_get(pw_dirref *r) {
  atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}
/** Drop a reference; the last one closes the folder. */
void pw_dirref_put(pw_queue *q, pw_dirref *r);
/** Drop a reference to a split; the last one frees its folder and descriptor. */
void pw_split_put(pw_queue *q, pw_split *s);
/** Workers are waiting for something to do (a racy hint, no lock). */
static inline bool pw_queue_hungry(pw_queue *q) {
  return atomic_load_explicit(&q->hungry, memory_order_relaxed);
}
/**
 * Push a chain of n items (first..last, linked through next) for others to
 * take while the caller is still reading its folder.
 */
void pw_queue_push(pw_queue *q, pw_item *first, pw_item *last, size_t n);
/**
 * One lock for the end of a folder: push the chain (n may be 0), mark the
 * caller's folder finished when finished_one, then take the next folder,
 * blocking while others are busy and the stack is empty (or while the
 * limit of readers is reached).  Before it first blocks, idle(arg) runs
 * (when not NULL) without the lock: a worker hands over what it holds back.
 * Returns NULL when the walk is over or cancelled.
 */
pw_item *pw_queue_next(pw_queue *q, pw_item *first, pw_item *last, size_t n, bool finished_one,
                       void (*idle)(void *), void *arg);
/** A group of subfolders is held for an answer: the walk goes on. */
void pw_queue_hold(pw_queue *q);
/** The answer: push the chain (n may be 0) and end the hold. */
void pw_queue_release(pw_queue *q, pw_item *first, pw_item *last, size_t n);
/** Let at most limit workers read at once (>= 1); wakes parked workers
 *  when it rises.  Workers above a lowered limit park after their folder. */
void pw_queue_set_limit(pw_queue *q, int limit);
/** A consistent look at the queue (the governor's input). */
void pw_queue_stats(pw_queue *q, int *busy, int *limit, size_t *waiting);
/** Cancel: wake everyone; pops return NULL from now on. */
void pw_queue_stop(pw_queue *q);
static inline bool pw_queue_stopped(pw_queue *q) {
  return atomic_load_explicit(&q->stop, memory_order_relaxed);
}

#endif
