/* govern.c — see govern.h. */
#define _GNU_SOURCE
#include "govern.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"

#define TICK_NS 10000000ll /* 10 ms between looks */
/* CPU use is counted in scheduler ticks, so one 10 ms look can read 20%
   high or low: decisions need a clear signal or a repeated one. */
#define BLOCKED 0.50       /* CPU use < this x min(readers, CPUs): raise now */
#define SLOW 0.75          /* ... < this, two looks in a row: raise */
#define SATURATED 0.85     /* smoothed CPU use > this x CPUs: lower by one */
#define LOWER_TICKS 3      /* at most one lowering per this many looks */
#define DISK_BYTES (128 << 10) /* storage reads per look that mean a cold disk */
#define DISK_READERS 32    /* readers the disk rule raises to (bench --cold) */
#define QUIET_TICKS 10     /* looks without storage reads before lowering */
#define SHARE_TICKS 10     /* looks between readings of the machine's busy time */
#define MACHINE_IDLE 0.10  /* its CPUs idle < this x them: saturated */
/* Saturated: the busy readers' time running or waiting for a CPU < this x
   their busy time, in two readings in a row: they are blocked.  Readers
   that never block still sleep some (a lock whose holder waits for a CPU;
   busy is sampled at the looks): 48% of it seen beside 16 busy loops. */
#define RUNQ_BLOCKED 0.25

/* Bytes this process has made the kernel read from storage (Linux's
   /proc/self/io read_bytes), or 0 where that cannot be told. */
static uint64_t storage_reads(int fd) {
#ifdef __linux__
  char buf[512];
  ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
  if (n <= 0) return 0;
  buf[n] = 0;
  const char *p = strstr(buf, "\nread_bytes: ");
  return p ? strtoull(p + 13, NULL, 10) : 0;
#else
  (void)fd;
  return 0;
#endif
}

/* The CPUs the process may run on, as /proc/stat reads them: the busy
   time of only those counts (a job in a cpuset on a shared node is not
   short of CPUs because other jobs keep the rest busy). */
typedef struct machine {
  int fd;         /**< /proc/stat, or -1 */
  char *buf;      /**< the whole file: a line per CPU */
  size_t cap;
#ifdef __linux__
  cpu_set_t mine; /**< the affinity set at the start */
#endif
} machine;

static void machine_open(machine *m) {
  m->fd = -1;
  m->buf = NULL;
  m->cap = 0;
#ifdef __linux__
  if (sched_getaffinity(0, sizeof m->mine, &m->mine)) return;
  m->fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
#endif
}

static void machine_close(machine *m) {
  if (m->fd >= 0) close(m->fd);
  free(m->buf);
}

/* Clock ticks the process's CPUs have been busy, with anyone's work or
   stolen by the hypervisor (Linux's /proc/stat cpuN lines: user, nice,
   system, irq, softirq, steal), and idle (idle, iowait): false where that
   cannot be told now.  Busy time is counted in ticks: read over several
   looks, not one; idle time is measured (a tickless kernel), and a tick
   lost while a hypervisor ran something else is not idle (beside 16 busy
   loops on 2 CPUs, 100 ms read 1.3 CPUs busy once, never idle). */
static bool machine_busy(machine *m, uint64_t *ticks, uint64_t *idle) {
#ifdef __linux__
  if (m->fd < 0) return false;
  size_t len = 0;
  for (;;) { /* the whole file, growing the buffer until it fits */
    if (m->cap - len < 4096) {
      char *b = pw_grow(m->buf, &m->cap, len + 4096);
      if (!b) return false;
      m->buf = b;
    }
    ssize_t n = pread(m->fd, m->buf + len, m->cap - len - 1, (off_t)len);
    if (n < 0) return false;
    if (n == 0) break;
    len += (size_t)n;
  }
  m->buf[len] = 0;
  uint64_t sum = 0, idle_sum = 0;
  int seen = 0;
  for (const char *p = strstr(m->buf, "\ncpu"); p; p = strstr(p + 1, "\ncpu")) {
    int cpu;
    unsigned long long v[8];
    if (sscanf(p + 1, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2],
               &v[3], &v[4], &v[5], &v[6], &v[7]) != 9)
      continue;
    if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &m->mine)) continue;
    sum += v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    idle_sum += v[3] + v[4];
    seen++;
  }
  *ticks = sum;
  *idle = idle_sum;
  return seen > 0;
#else
  (void)m;
  (void)ticks;
  (void)idle;
  return false;
#endif
}

/* The readers' view of the CPUs on a saturated machine, where CPU use
   cannot tell a reader blocked in the file system from one waiting for a
   CPU: each worker's time running or waiting on a run queue (Linux's
   /proc/self/task/<tid>/schedstat, its first two fields, in ns).  Read
   only while the machine is saturated, once per machine reading: an open,
   a read and a close per worker (no descriptors kept from the walk). */
typedef struct runq {
  int n;         /**< workers (the governor's max), 0: cannot be told */
  int64_t *seen; /**< each one's running + waiting ns at the last reading, -1: none */
  bool based;    /**< the last reading was taken: the next one spans a window */
} runq;

/* What the last window of run-queue readings says of the busy readers. */
enum { RQ_NONE, RQ_WAIT, RQ_CPU, RQ_BLOCKED };

static void runq_open(runq *r, const pw_governor *g) {
  r->n = 0;
  r->based = false;
  r->seen = NULL;
#ifdef __linux__
  if (!g->worker_tid || !(r->seen = malloc((size_t)g->max * sizeof *r->seen))) return;
  r->n = g->max;
#else
  (void)g;
#endif
}

/* Start over: the next reading is a new base. */
static void runq_reset(runq *r) { r->based = false; }

/* Read every started worker's running + waiting time: false when none can
   be read; else *sum is the time they spent so since the last reading
   (meaningful only when that one was taken: r->based before the call). */
static bool runq_read(runq *r, const pw_governor *g, int64_t *sum) {
  int64_t total = 0;
  int seen = 0;
  for (int i = 0; i < r->n; i++) {
    int tid = g->worker_tid(g->arg, i);
    int64_t v = -1;
    if (tid > 0) {
      char path[64], buf[128];
      snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", tid);
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
      if (fd >= 0) close(fd);
      unsigned long long run, wait;
      if (n > 0) {
        buf[n] = 0;
        if (sscanf(buf, "%llu %llu", &run, &wait) == 2) v = (int64_t)(run + wait);
      }
    }
    if (v < 0) { /* not started, or ended */
      r->seen[i] = -1;
      continue;
    }
    /* a worker without a base started running since the last reading */
    int64_t base = r->based && r->seen[i] >= 0 ? r->seen[i] : 0;
    total += v > base ? v - base : 0;
    r->seen[i] = v;
    seen++;
  }
  *sum = total;
  r->based = seen > 0;
  return seen > 0;
}

/* The cgroup folder dir's cpu.stat, or -1. */
static int open_stat(const char *dir) {
  size_t len = strlen(dir);
  char *path = malloc(len + sizeof "/cpu.stat");
  if (!path) return -1;
  memcpy(path, dir, len);
  memcpy(path + len, "/cpu.stat", sizeof "/cpu.stat");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  free(path);
  return fd;
}

/* Periods in which the cgroups with a quota used it up and waited (the
   sum of their cpu.stat's nr_throttled, cgroup v1 and v2). */
static uint64_t throttle_count(const pw_governor *g) {
  uint64_t sum = 0;
  for (int i = 0; i < g->nstat; i++) {
    char buf[1024];
    ssize_t n = pread(g->stat_fd[i], buf, sizeof buf - 1, 0);
    if (n <= 0) continue;
    buf[n] = 0;
    const char *p = strstr(buf, "nr_throttled ");
    if (p) sum += strtoull(p + 13, NULL, 10);
  }
  return sum;
}

static int64_t ns(clockid_t c) {
  struct timespec t;
  if (clock_gettime(c, &t)) return 0;
  return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

/* Let n read: the workers first, then the limit. */
static void set_readers(pw_governor *g, int n) {
  g->grow(g->arg, n);
  pw_queue_set_limit(g->queue, n);
}

static void *govern_main(void *arg) {
  pw_governor *g = arg;
  pw_thread_name("pwalk-governor");
  /* CPUs to use (a cgroup quota caps them), and those we may run on:
     the others' busy time is taken from the latter */
  const int ncpu = g->min, naff = g->naff;
  const double quota = g->quota;
  /* Under a quota the process runs until it has used its share of a
     period, then waits for the next: looks in the wait would read as
     readers blocked in the file system.  The quota's cgroups count those
     waits (cpu.stat): while they did in the last period, CPU use says
     nothing of blocked readers, and none are added on CPU grounds. */
  uint64_t throttled0 = throttle_count(g);
  int window = (int)((g->period_ns + TICK_NS - 1) / TICK_NS) + 1, throttled_in = 0;
  int64_t wall0 = ns(CLOCK_MONOTONIC), cpu0 = ns(CLOCK_PROCESS_CPUTIME_ID);
  int slow = 0, since_lower = 0, disk = 0, quiet = 0;
  double smooth = ncpu;
#ifdef __linux__
  int io = open("/proc/self/io", O_RDONLY | O_CLOEXEC);
#else
  int io = -1;
#endif
  uint64_t reads0 = storage_reads(io);
  /* The CPUs left to us: other processes and a hypervisor's steal take
     CPU time that the process's own clock does not count, and readers
     waiting for a CPU would look blocked in the file system (seen: 64
     workers on a VM with 7% steal, and beside two busy loops).  Until a
     first reading, no reader is added on CPU grounds. */
  machine m;
  machine_open(&m);
  uint64_t mbusy0 = 0, midle0 = 0;
  int64_t share_wall0 = wall0, share_cpu0 = cpu0;
  bool can_share = machine_busy(&m, &mbusy0, &midle0);
  bool share_known = !can_share; /* cannot be told: all of them, as before */
  long hz = sysconf(_SC_CLK_TCK);
  /* a quota of 1.5 CPUs: use of 1.5 is all there is, not idle CPUs */
  double avail = quota > 0 && quota < ncpu ? quota : ncpu;
  const double most = avail;
  int share_in = 0;
  /* The machine's CPUs all busy at the last reading: our use cannot tell
     blocked readers from readers waiting for a CPU (beside 16 busy loops
     on 2 CPUs the readers' share, a few tenths of a CPU, read as readers
     blocked, and they were doubled up to 45 threads).  Then the readers'
     run-queue waits tell, over the machine reading's window: busy_sum
     counts the readers holding a folder at each look of it. */
  bool saturated = false;
  runq rq;
  runq_open(&rq, g);
  int rq_says = RQ_NONE, rq_row = 0; /* rq_row: RQ_BLOCKED readings in a row */
  int64_t busy_sum = 0;
  pthread_mutex_lock(&g->mu);
  while (!g->stop) {
    struct timespec until;
    pw_deadline(&until, TICK_NS);
    int e = pthread_cond_timedwait(&g->cv, &g->mu, &until);
    if (g->stop) break;
    if (e != ETIMEDOUT) continue;
    pthread_mutex_unlock(&g->mu);

    int64_t wall = ns(CLOCK_MONOTONIC), cpu = ns(CLOCK_PROCESS_CPUTIME_ID);
    double used = wall > wall0 ? (double)(cpu - cpu0) / (double)(wall - wall0) : 0;
    if (g->nstat) {
      uint64_t throttled = throttle_count(g);
      throttled_in = throttled != throttled0 ? window : throttled_in > 0 ? throttled_in - 1 : 0;
      throttled0 = throttled;
    }
    wall0 = wall;
    cpu0 = cpu;
    smooth = 0.5 * smooth + 0.5 * used;
    since_lower++;
    int busy, limit;
    size_t waiting;
    pw_queue_stats(g->queue, &busy, &limit, &waiting);
    busy_sum += busy;
    uint64_t mbusy, midle;
    if (can_share && ++share_in == SHARE_TICKS && machine_busy(&m, &mbusy, &midle)) {
      share_in = 0;
      if (mbusy >= mbusy0 && midle >= midle0 && wall > share_wall0 && hz > 0) {
        /* our CPUs' busy time less ours: the others' (and the steal) */
        double span = (double)(wall - share_wall0);
        double busy_ns = (double)(mbusy - mbusy0) * (1e9 / (double)hz);
        double others = (busy_ns - (double)(cpu - share_cpu0)) / span;
        avail = naff - (others > 0 ? others : 0);
        if (avail > most) avail = most;
        if (avail < 0.5) avail = most < 0.5 ? most : 0.5;
        share_known = true;
        double idle_ns = (double)(midle - midle0) * (1e9 / (double)hz);
        saturated = idle_ns < MACHINE_IDLE * naff * span;
        /* Saturated, CPU use cannot tell: the readers are blocked (in the
           file system; the consumer's hold is told apart by held_back)
           when those holding a folder spent three quarters of that time
           neither running nor waiting for a CPU (RUNQ_BLOCKED). */
        int64_t spent;
        bool based = rq.based;
        if (!saturated || !rq.n) {
          runq_reset(&rq);
          rq_says = RQ_NONE;
        } else if (!runq_read(&rq, g, &spent)) {
          rq_says = RQ_NONE;
        } else if (!based) {
          rq_says = RQ_WAIT;
        } else {
          double held = (double)busy_sum / SHARE_TICKS * span; /* readers' busy ns */
          rq_says = held > 0 && (double)spent < RUNQ_BLOCKED * held ? RQ_BLOCKED : RQ_CPU;
        }
        rq_row = rq_says == RQ_BLOCKED ? rq_row + 1 : 0;
      }
      mbusy0 = mbusy;
      midle0 = midle;
      share_wall0 = wall;
      share_cpu0 = cpu;
      busy_sum = 0;
    } else if (share_in >= SHARE_TICKS) {
      share_in = 0; /* a reading failed: the last one holds; try again later */
      busy_sum = 0;
    }
    double cap = limit < avail ? limit : avail;
    uint64_t reads = storage_reads(io);
    bool reading = reads - reads0 >= DISK_BYTES;
    reads0 = reads;
    disk = reading ? disk + 1 : 0;
    quiet = reading ? 0 : quiet + 1;
    /* Folders wait and every reader is busy, yet the CPUs idle: the
       readers are blocked in the file system.  Double them.  Or the
       readers make the kernel read the disk (a cold cache): its I/O keeps
       the CPUs busy too, so CPU use does not tell, yet more requests in
       flight finish sooner (bench --cold): double them, up to
       DISK_READERS. */
    /* Workers waited for the consumer of their records: it is the
       bottleneck, and more readers would only fill more batches. */
    bool held_back = g->held_back && g->held_back(g->arg);
    bool starved = waiting && busy >= limit && limit < g->max && !held_back;
    /* CPU use can tell blocked readers (not on a saturated machine) */
    bool cpu_says = share_known && !throttled_in && !saturated;
    slow = starved && cpu_says && used < SLOW * cap ? slow + 1 : 0;
    int disk_cap = DISK_READERS < g->max ? DISK_READERS : g->max;
    if (starved && cpu_says && (used < BLOCKED * cap || slow >= 2)) {
      int next = limit * 2;
      set_readers(g, next < g->max ? next : g->max);
      slow = 0;
    } else if (starved && saturated && !throttled_in && rq_says == RQ_BLOCKED && rq_row >= 2) {
      /* once per reading: the next one measures the new readers */
      int next = limit * 2;
      set_readers(g, next < g->max ? next : g->max);
      rq_says = RQ_WAIT;
    } else if (starved && disk >= 2 && limit < disk_cap) {
      int next = limit * 2;
      set_readers(g, next < disk_cap ? next : disk_cap);
      disk = 0;
    } else if (limit > g->min && quiet >= QUIET_TICKS && since_lower >= LOWER_TICKS &&
               (smooth > SATURATED * avail ||
                (saturated && (rq_says == RQ_NONE || rq_says == RQ_CPU)))) {
      /* CPU-bound, or the machine is: readers beyond the CPUs only add
         switches and misses, or wait for a CPU. */
      pw_queue_set_limit(g->queue, limit - 1);
      since_lower = 0;
    }
    pthread_mutex_lock(&g->mu);
  }
  pthread_mutex_unlock(&g->mu);
  if (io >= 0) close(io);
  machine_close(&m);
  free(rq.seen);
  return NULL;
}

static void close_stats(pw_governor *g) {
  for (int i = 0; i < g->nstat; i++) close(g->stat_fd[i]);
  g->nstat = 0;
}

int pw_governor_start(pw_governor *g, pw_queue *q, const pw_cpus *cpus, int max,
                      void (*grow)(void *arg, int readers), bool (*held_back)(void *arg),
                      int (*worker_tid)(void *arg, int i), void *arg) {
  g->queue = q;
  g->grow = grow;
  g->held_back = held_back;
  g->worker_tid = worker_tid;
  g->arg = arg;
  g->min = cpus->count < 1 ? 1 : cpus->count;
  g->max = max;
  g->naff = cpus->affinity;
  g->quota = cpus->quota;
  g->period_ns = cpus->period_ns;
  g->nstat = 0;
  g->stop = false;
  g->running = false;
  if (g->min >= max) return 0; /* nothing to govern */
  for (int i = 0; i < cpus->ndirs; i++) {
    int fd = open_stat(cpus->dirs[i]);
    if (fd >= 0) g->stat_fd[g->nstat++] = fd;
  }
  if (pthread_mutex_init(&g->mu, NULL)) {
    close_stats(g);
    return -ENOMEM;
  }
  if (pw_cond_init(&g->cv)) {
    pthread_mutex_destroy(&g->mu);
    close_stats(g);
    return -ENOMEM;
  }
  pw_queue_set_limit(q, g->min);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int e = pw_thread_start(&g->thread, &attr, govern_main, g, "pwalk-governor");
  pthread_attr_destroy(&attr);
  if (e) {
    pw_queue_set_limit(q, max);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    close_stats(g);
    return -e;
  }
  g->running = true;
  return 0;
}

void pw_governor_stop(pw_governor *g) {
  if (!g->running) return;
  pthread_mutex_lock(&g->mu);
  g->stop = true;
  pthread_cond_signal(&g->cv);
  pthread_mutex_unlock(&g->mu);
  pthread_join(g->thread, NULL);
  pthread_cond_destroy(&g->cv);
  pthread_mutex_destroy(&g->mu);
  close_stats(g);
  g->running = false;
}
