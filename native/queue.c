/* queue.c — see queue.h. */
#include "queue.h"
#include "sys.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Folder descriptors kept open for subfolders: a quarter of the
   descriptors free when the job starts (the soft limit of open files less
   those open: the host program's, other jobs'), at most PW_DIRREFS_MAX,
   for the whole process: several jobs at once (walks of one program, held
   ones above all, whose subfolders wait with their parent's descriptor)
   share it, lest together they run the process out of descriptors, which
   the workers' listings and the host program need too.  Past it,
   subfolders are opened by path.  Depth-first order keeps far fewer open
   on ordinary trees (about one per level of the folders being read). */
#define PW_DIRREFS_MAX 4096

/* Descriptors open in this process (Linux's /proc/self/fd), or -1. */
static long open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  long n = -1; /* not counting the listing's own */
  while (readdir(d)) n++;
  closedir(d);
  return n - 2; /* "." and ".." */
}

static int dirref_budget(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY) return PW_DIRREFS_MAX;
  long used = open_fds();
  long n = ((long)rl.rlim_cur - (used >= 0 ? used : 0)) / 4;
  return n < 0 ? 0 : n > PW_DIRREFS_MAX ? PW_DIRREFS_MAX : (int)n;
}

static atomic_int process_dirrefs;

int pw_queue_init(pw_queue *q) {
  memset(q, 0, sizeof *q);
  if (pthread_mutex_init(&q->mu, NULL)) return -ENOMEM;
  if (pthread_cond_init(&q->cv, NULL)) {
    pthread_mutex_destroy(&q->mu);
    return -ENOMEM;
  }
  q->limit = INT_MAX;
  atomic_init(&q->stop, false);
  atomic_init(&q->dirrefs, 0);
  atomic_init(&q->hungry, false);
  q->dirref_budget = dirref_budget();
  return 0;
}

void pw_queue_fini(pw_queue *q) {
  pw_item *it = q->top;
  while (it) {
    pw_item *n = it->next;
    pw_item_free(q, it);
    it = n;
  }
  pthread_cond_destroy(&q->cv);
  pthread_mutex_destroy(&q->mu);
}

pw_item *pw_item_new(const char *path, size_t len) {
  pw_item *it = malloc(sizeof *it + len + 1);
  if (!it) return NULL;
  it->next = NULL;
  it->split = NULL;
  it->names = NULL;
  it->names_len = 0;
  it->parent = NULL;
  it->name_off = 0;
  it->parent_ino = 0;
  it->user = 0;
  it->group = 0;
  it->depth = 0;
  it->is_root = false;
  it->via_link = false;
  it->below_link = false;
  it->no_stat = false;
  it->anc = NULL;
  it->front = false;
  it->len = len;
  memcpy(it->path, path, len);
  it->path[len] = 0;
  return it;
}

pw_anc *pw_anc_new(pw_anc *up, const struct stat *st) {
  pw_anc *a = malloc(sizeof *a);
  if (!a) return NULL;
  a->up = up;
  a->dev = (uint64_t)st->st_dev;
  a->ino = (uint64_t)st->st_ino;
  a->ctime_sec = (int64_t)st->PW_CTIM.tv_sec;
  a->ctime_nsec = (long)st->PW_CTIM.tv_nsec;
  atomic_init(&a->refs, 1);
  if (up) atomic_fetch_add_explicit(&up->refs, 1, memory_order_relaxed);
  return a;
}

void pw_anc_put(pw_anc *a) {
  while (a && atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1) {
    pw_anc *up = a->up;
    free(a);
    a = up;
  }
}

int pw_anc_find(const pw_anc *a, const struct stat *st) {
  int64_t sec = (int64_t)st->PW_CTIM.tv_sec;
  long nsec = (long)st->PW_CTIM.tv_nsec;
  bool known = sec || nsec;
  int found = PW_ANC_NONE;
  for (; a; a = a->up) {
    if (a->ino != (uint64_t)st->st_ino || a->dev != (uint64_t)st->st_dev) continue;
    if (!known || !(a->ctime_sec || a->ctime_nsec) ||
        (a->ctime_sec == sec && a->ctime_nsec == nsec))
      return PW_ANC_SAME;
    found = PW_ANC_OTHER_CTIME;
  }
  return found;
}

void pw_item_free(pw_queue *q, pw_item *it) {
  pw_anc_put(it->anc);
  if (it->parent) pw_dirref_put(q, it->parent);
  if (it->split) pw_split_put(q, it->split);
  free(it->names);
  free(it);
}

void pw_split_put(pw_queue *q, pw_split *s) {
  if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
  pw_item_free(q, s->it);
  pw_dirref_put(q, s->ref);
  free(s);
}

pw_dirref *pw_dirref_new(pw_queue *q, int fd) {
  /* the budget, read when the job started, bounds every job's together */
  if (atomic_fetch_add(&process_dirrefs, 1) >= q->dirref_budget) {
    atomic_fetch_sub(&process_dirrefs, 1);
    return NULL;
  }
  pw_dirref *r = malloc(sizeof *r);
  if (!r) {
    atomic_fetch_sub(&process_dirrefs, 1);
    return NULL;
  }
  atomic_fetch_add(&q->dirrefs, 1);
  atomic_init(&r->refs, 1);
  r->fd = fd;
  return r;
}

void pw_dirref_put(pw_queue *q, pw_dirref *r) {
  if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1) return;
  close(r->fd);
  free(r);
  atomic_fetch_sub(&q->dirrefs, 1);
  atomic_fetch_sub(&process_dirrefs, 1);
}

/* Called with the lock held, after any change of top, busy, limit or
   sleepers: whether a sleeping worker could take a folder now (the governor
   lowering the limit turns it off, not only a sleeper waking). */
static void hint(pw_queue *q) {
  atomic_store_explicit(&q->hungry, !q->top && q->busy < q->limit && q->sleepers > 0,
                        memory_order_relaxed);
}

/* Called with the lock held.  Wake one sleeper per new folder, no more,
   and none beyond the limit of readers (reserve of them being taken by the
   caller): a broadcast to 15 sleepers for 2 folders costs 13 futex round
   trips that find nothing to do. */
static void wake(pw_queue *q, size_t n, int reserve) {
  long slots = (long)q->limit - q->busy - reserve;
  if (slots <= 0) return;
  size_t k = n < (size_t)q->sleepers ? n : (size_t)q->sleepers;
  if (k > (size_t)slots) k = (size_t)slots;
  while (k--) pthread_cond_signal(&q->cv);
}

static void push_locked(pw_queue *q, pw_item *first, pw_item *last, size_t n) {
  last->next = q->top;
  q->top = first;
  q->waiting += n;
  wake(q, n, 0);
  hint(q);
}

void pw_queue_push(pw_queue *q, pw_item *first, pw_item *last, size_t n) {
  if (!n) return;
  pthread_mutex_lock(&q->mu);
  push_locked(q, first, last, n);
  pthread_mutex_unlock(&q->mu);
}

pw_item *pw_queue_next(pw_queue *q, pw_item *first, pw_item *last, size_t n, bool finished_one,
                       void (*idle)(void *), void *arg) {
  pthread_mutex_lock(&q->mu);
  if (finished_one) q->busy--;
  /* Our own folder's subfolders: the caller takes the last one pushed below,
     so only the others are worth waking sleepers for. */
  if (n) {
    last->next = q->top;
    q->top = first;
    q->waiting += n;
    wake(q, n - 1, 1);
  }
  for (;;) {
    if (atomic_load_explicit(&q->stop, memory_order_relaxed)) break;
    if (q->top && q->busy < q->limit) {
      pw_item *it = q->top;
      q->top = it->next;
      q->waiting--;
      q->busy++;
      hint(q);
      pthread_mutex_unlock(&q->mu);
      return it;
    }
    /* nothing waiting, nobody can add more: done */
    if (!q->top && q->busy == 0 && q->held == 0) break;
    if (idle) {
      hint(q);
      pthread_mutex_unlock(&q->mu);
      idle(arg);
      idle = NULL;
      pthread_mutex_lock(&q->mu);
      continue;
    }
    q->sleepers++;
    hint(q);
    pthread_cond_wait(&q->cv, &q->mu);
    q->sleepers--;
  }
  hint(q);
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

void pw_queue_hold(pw_queue *q) {
  pthread_mutex_lock(&q->mu);
  q->held++;
  pthread_mutex_unlock(&q->mu);
}

void pw_queue_release(pw_queue *q, pw_item *first, pw_item *last, size_t n) {
  pthread_mutex_lock(&q->mu);
  q->held--;
  if (n) push_locked(q, first, last, n);
  /* The last answer of a finished walk: the sleepers must see the end. */
  if (!q->top && q->busy == 0 && q->held == 0) pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

void pw_queue_set_limit(pw_queue *q, int limit) {
  pthread_mutex_lock(&q->mu);
  q->limit = limit < 1 ? 1 : limit;
  wake(q, q->waiting, 0);
  hint(q);
  pthread_mutex_unlock(&q->mu);
}

void pw_queue_stats(pw_queue *q, int *busy, int *limit, size_t *waiting) {
  pthread_mutex_lock(&q->mu);
  *busy = q->busy;
  *limit = q->limit;
  *waiting = q->waiting;
  pthread_mutex_unlock(&q->mu);
}

void pw_queue_stop(pw_queue *q) {
  pthread_mutex_lock(&q->mu);
  atomic_store(&q->stop, true);
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
}
