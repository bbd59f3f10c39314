/*
 * govern.h — how many workers may read folders at once.
 *
 * Owns: what the default thread count means.  A job with the default starts
 * one reader per CPU (those it may use: sys.h pw_cpu_count), and a
 * governor thread that looks every 10 ms at the CPU time the process used:
 * while folders wait and the readers leave the CPUs idle (they are blocked
 * in the file system: network or cold disks;
 * CPU time other processes use or a hypervisor steals, from /proc/stat,
 * is not idle: readers waiting for a CPU are not blocked; nor is a
 * process its cgroup's CPU quota holds back, from its cpu.stat),
 * it lets more of the parked workers read, up to every worker, unless the
 * workers were kept waiting by the consumer of their records (a slow
 * JavaScript loop over walk()), which more readers cannot help; once the
 * CPUs are saturated it lets fewer read again, down to one per CPU.
 * When the machine is saturated (the CPUs we may run on idle less than
 * 10% of a 100 ms reading), CPU use cannot tell readers blocked in the
 * file system from readers waiting for a CPU: then the readers' own
 * run-queue waits tell (Linux's /proc/self/task/<tid>/schedstat, read only
 * while the machine is saturated, once per reader every 100 ms): while
 * they spend three quarters of their busy time neither running nor
 * waiting for a CPU, two readings in a row, they are blocked and are
 * doubled; otherwise (or where those waits cannot be read) it lets fewer
 * read, as readers beyond the CPUs only queue for them (seen: 11 to 45
 * threads beside 16 busy loops on 2 CPUs, the readers' small share of the
 * CPUs read as blocked readers).  On
 * a fast local file system extra readers only add context switches and
 * cache misses; on NFS/Lustre they hide the latency of each metadata call.
 * An explicit thread count is never governed: every worker reads.
 *
 * The governor only moves the queue's limit (pw_queue_set_limit); workers
 * take the queue's lock once per folder, as before, and nothing is done per
 * entry.
 */
#ifndef PW_GOVERN_H
#define PW_GOVERN_H

#include <pthread.h>
#include <stdbool.h>

#include "queue.h"
#include "sys.h"

typedef struct pw_governor {
  pw_queue *queue;
  void (*grow)(void *arg, int readers); /**< make sure this many workers exist */
  bool (*held_back)(void *arg);         /**< consumer kept workers waiting? (may be NULL) */
  int (*worker_tid)(void *arg, int i);  /**< worker i's Linux thread id, 0: none (may be NULL) */
  void *arg;
  int min;             /**< readers at the start and the floor (CPUs) */
  int max;             /**< every worker */
  int naff;            /**< CPUs it may run on (pw_cpus affinity) */
  double quota;        /**< CPUs of the tightest cgroup quota, 0: none */
  int64_t period_ns;   /**< that quota's period */
  int nstat;           /**< open cpu.stat files: one per cgroup folder with a quota */
  int stat_fd[PW_CPU_QUOTA_DIRS];
  pthread_t thread;
  bool running;        /**< the thread was started */
  pthread_mutex_t mu;  /**< guards stop, for the timed wait */
  pthread_cond_t cv;
  bool stop;
} pw_governor;

/**
 * Start governing q's limit between one reader per CPU of cpus (its
 * count, which is also the floor) and max readers; before it lets n read, grow(arg, n) makes sure n workers exist;
 * while held_back(arg) (NULL: never) says the consumer of the records kept
 * workers waiting since the last look, no readers are added;
 * worker_tid(arg, i) (NULL: none known) is worker i's Linux thread id, or
 * 0 while it has none (its run-queue waits, on a saturated machine).
 * Returns 0, or -errno when the thread cannot start (the queue is then
 * left with max readers, and the caller must grow to max: correct, just
 * not tuned).
 */
int pw_governor_start(pw_governor *g, pw_queue *q, const pw_cpus *cpus, int max,
                      void (*grow)(void *arg, int readers), bool (*held_back)(void *arg),
                      int (*worker_tid)(void *arg, int i), void *arg);
/** Stop and join the governor thread (no-op if it never started). */
void pw_governor_stop(pw_governor *g);

#endif
