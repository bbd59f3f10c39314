/*
 * sys.h — small system helpers every part of libpwalk may use.
 *
 * Owns: keeping the library loaded until the process ends (sys.c's
 * constructor), writing a whole buffer to an fd, the number of CPUs this
 * process may use (affinity and cgroup quota), growing a buffer, and
 * telling valid UTF-8 (with its UTF-16 length), the names of struct
 * stat's timespec fields (PW_ATIM, PW_MTIM, PW_CTIM), timed waits on
 * condition variables that a step of the wall clock does not stretch,
 * telling an fd on overlayfs, the one statx call (pw_statx) for the
 * facts struct stat lacks: birth time and mount id, and naming the
 * library's threads (pw_thread_name).
 */
#ifndef PW_SYS_H
#define PW_SYS_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* struct stat's timespec fields (st_atim...; macOS: st_atimespec...) */
#ifdef __APPLE__
#define PW_ATIM st_atimespec
#define PW_MTIM st_mtimespec
#define PW_CTIM st_ctimespec
#else
#define PW_ATIM st_atim
#define PW_MTIM st_mtim
#define PW_CTIM st_ctim
#endif

/**
 * Initialise cv for pw_deadline's timed waits: on Linux they are timed by
 * CLOCK_MONOTONIC, so a step of the wall clock (NTP setting it back an
 * hour, a VM resumed) neither stalls a wait nor ends it early; macOS has
 * no such attribute and keeps the wall clock.  0 or an errno.
 */
int pw_cond_init(pthread_cond_t *cv);

/**
 * *until set to ns nanoseconds from now, on the clock pw_cond_init's
 * variables wait by: the deadline for pthread_cond_timedwait on them.
 */
void pw_deadline(struct timespec *until, int64_t ns);

/** Write all of buf to fd, retrying on EINTR and short writes (and waiting
    with poll while a non-blocking fd is full); 0 or -errno. */
int pw_write_all(int fd, const void *buf, size_t len);

/** How long a writer to a full pipe waits in poll() before it looks at its
    stop flag again (pw_write_until). */
#define PW_FULL_POLL_MS 100

/**
 * pw_write_all, but a full non-blocking fd (a pipe whose reader stopped
 * reading) is polled for room PW_FULL_POLL_MS at a time until *stop is set
 * (NULL: never), then -ECANCELED: a signal that cancels the job reaches a
 * writer waiting there.  Each write's bytes are added to *count (NULL:
 * not counted).  A reader that keeps up costs nothing more than write().
 * SIGXFSZ is blocked in the calling thread while it writes (and taken if
 * raised): past a file size limit the write fails with -EFBIG rather than
 * killing a process that does not handle the signal (a script's report()).
 */
int pw_write_until(int fd, const void *buf, size_t len, _Atomic bool *stop,
                   _Atomic uint64_t *count);

/** What pw_xfsz_block changed, for pw_xfsz_restore. */
typedef struct pw_xfsz_mask {
  sigset_t set, old;
  bool masked; /**< SIGXFSZ was blocked here (not by the thread's own mask before) */
} pw_xfsz_mask;

/**
 * Keep SIGXFSZ, which a write past RLIMIT_FSIZE (`ulimit -f`) raises and
 * whose default action ends the process, from this thread's writes until
 * pw_xfsz_restore: blocked here (on macOS, which sends it to the process,
 * set ignored once if it has its default action; a handler is kept), so
 * that the write fails with EFBIG instead.  pw_write_until and the
 * journal's appends use it.
 */
void pw_xfsz_block(pw_xfsz_mask *m);
/**
 * Block SIGXFSZ in the calling thread for the rest of its life (a worker
 * thread of the library, at its start): a write past RLIMIT_FSIZE then
 * fails with EFBIG, the signal left pending in this thread (discarded
 * when it ends), and pw_xfsz_block and pw_xfsz_restore make no system
 * call in it (three per write otherwise: a worker writing a change line
 * and a journal line per entry).
 */
void pw_xfsz_hold(void);

/** Take a SIGXFSZ raised meanwhile (sigwait), then put the thread's mask back. */
void pw_xfsz_restore(pw_xfsz_mask *m);

/**
 * A pipe or FIFO handed down as fd, opened again through /proc/self/fd
 * (Linux) as a non-blocking description of its own, without touching the
 * flags of fd's description (shared with a parent shell, or Deno's stdout):
 * the new fd (the caller closes it), or -1 where that cannot be done (no
 * /proc, a socket, a pipe with no reader left): then fd is used as it is.
 */
int pw_reopen_nonblocking(int fd);

/**
 * Whether fd (any descriptor, O_PATH too) is on overlayfs (fstatfs: Linux
 * only, false elsewhere or when the call fails).  There a folder can list
 * as its layer's inode until looked up (the walker), and the first change
 * of a lower layer's entry copies it up: same inode number, a new birth
 * time (the journal, undo).
 */
bool pw_fd_on_overlayfs(int fd);

/**
 * Whether the file open as fd is on overlayfs or on a FUSE file system
 * (one fstatfs; Linux only): where a folder's listed inode number need
 * not be its own (a FUSE server passing its source's numbers through
 * lists a mount point of the source as the folder it covers).
 */
bool pw_fd_lists_other_inodes(int fd);

/** Whether the file open as fd is on a FUSE file system (one fstatfs;
    Linux only). */
bool pw_fd_on_fuse(int fd);

/** statx mask bits (values of <linux/stat.h>, defined here for headers
    that lack them) that pw_statx may be asked for. */
#define PW_STATX_BTIME 0x800U   /**< stx_btime: birth time */
#define PW_STATX_MNT_ID 0x1000U /**< stx_mnt_id: mount id (Linux 5.8 on) */

/** What pw_statx read: a field is valid only when its bit is in mask. */
typedef struct pw_statx_res {
  uint32_t mask;       /**< the PW_STATX_* bits the kernel filled */
  int64_t btime_sec;   /**< birth time, seconds (PW_STATX_BTIME) */
  uint32_t btime_nsec; /**< birth time, nanoseconds (PW_STATX_BTIME) */
  uint64_t mnt_id;     /**< mount id (PW_STATX_MNT_ID) */
} pw_statx_res;

/**
 * statx(2) of name in dirfd ("" : dirfd itself, any descriptor, O_PATH
 * too), never following a symbolic link, asking for the PW_STATX_* bits in
 * want; *out zeroed first, then filled with what the kernel gave.  The one
 * statx caller of libpwalk: by its system-call number, since glibc has its
 * wrapper only from 2.28 on (the release libraries' floor is 2.27).  0 or
 * -errno; -ENOSYS on other systems than Linux, and where the kernel lacks
 * statx (before 4.11).
 */
int pw_statx(int dirfd, const char *name, unsigned want, pw_statx_res *out);

/**
 * Name the calling thread (at most 15 bytes): what `ps -L`, `top -H`,
 * /proc/PID/task/TID/comm and debuggers show for it. The library's
 * threads are "pwalk-worker" (a walk's readers), "pwalk-governor" (the
 * thread that sets how many of them read) and "pwalk-journal" (repair's
 * journal syncer), whatever thread started them. Best effort: nothing on
 * failure.
 */
void pw_thread_name(const char *name);

/**
 * pthread_create, the new thread named `name` before this returns (on
 * Linux, through /proc: from its start on, not once it first runs, which
 * a loaded machine may put off; a thread named so calls pw_thread_name
 * itself too, for a system without /proc). 0 or pthread_create's errno.
 */
int pw_thread_start(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg,
                    const char *name);

/** Most cgroup folders with a quota that pw_cpus keeps. */
#define PW_CPU_QUOTA_DIRS 8

/** The CPUs this process can use. */
typedef struct pw_cpus {
  int affinity;      /**< CPUs it may run on (its affinity mask where there is one) */
  int count;         /**< what "one per CPU" counts: affinity, capped by the quota rounded up */
  double quota;      /**< CPUs the tightest cgroup quota grants (1.5 for 150000/100000), 0: none */
  int64_t period_ns; /**< that quota's period: it may use quota x period per period, then waits */
  int ndirs;         /**< cgroup folders that set a quota (their cpu.stat counts the waits) */
  char *dirs[PW_CPU_QUOTA_DIRS];
} pw_cpus;

/**
 * Read the CPUs this process can use: its affinity, and on Linux the
 * cgroup CPU quotas along its cgroup's folders (v2's cpu.max, v1's
 * cpu.cfs_quota_us / cpu.cfs_period_us; the cgroup from
 * /proc/self/cgroup, its mount from /proc/self/mountinfo): a container or
 * job limited to 2 CPUs on a 64-CPU node has 2.  A few file reads: once
 * per job, never per entry.  Free with pw_cpus_free.
 */
void pw_cpus_read(pw_cpus *c);

/** Free what pw_cpus_read allocated (c->dirs). */
void pw_cpus_free(pw_cpus *c);

/** pw_cpus_read's count alone. */
int pw_cpu_count(void);

/**
 * A buffer p of *cap bytes grown (doubling, from 4096 when empty) to hold
 * at least need bytes: the new buffer, *cap updated; NULL when out of
 * memory (p and *cap untouched).  Callers test need <= *cap first.
 */
void *pw_grow(void *p, size_t *cap, size_t need);

/** UTF-16 length of s (n bytes) when it is valid UTF-8, else -1. */
int64_t pw_utf16_len(const uint8_t *s, size_t n);

/**
 * The length (2-4) of the UTF-8 character starting at s[0] (a byte >= 0x80,
 * n >= 1 bytes available), or 0 when none does: no overlong forms, no
 * surrogates, nothing above U+10FFFF (what a strict decoder accepts).
 */
static inline size_t pw_utf8_seq(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  uint8_t lo = 0x80, hi = 0xBF; /* the second byte's range */
  size_t len;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t k = 2; k < len; k++)
    if ((s[k] & 0xC0) != 0x80) return 0;
  return len;
}

#endif
