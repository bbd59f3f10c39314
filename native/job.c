/* job.c — see job.h and engine.h: a job's life, its threads and what it reports. */
#define _GNU_SOURCE
#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"

/* ---- accessors (engine.h) ------------------------------------------------ */

const struct pw_opts *pw_job_opts(const pw_job *j) { return j->opts; }
void *pw_job_ctx(const pw_job *j) { return j->vctx; }
void pw_job_set_ctx(pw_job *j, void *ctx) { j->vctx = ctx; }
int pw_job_threads(const pw_job *j) { return j->nthreads; }
const struct stat *pw_job_root_stat(const pw_job *j) { return &j->root_st; }
const char *pw_job_root(const pw_job *j, size_t *len) {
  *len = j->root_len;
  return j->opts->root;
}
void pw_job_set_root_user(pw_job *j, uint64_t user) {
  if (j->root) j->root->user = user;
}
/* (skip holds every file a job can leave out, PW_SKIP_MAX: the checks for
   a full array below never drop one) */
void pw_job_skip_file(pw_job *j, const struct stat *st) {
  if (j->nskip == (int)(sizeof j->skip / sizeof j->skip[0])) return;
  j->skip[j->nskip++] = (pw_skip){.dev = (uint64_t)st->st_dev, .ino = (uint64_t)st->st_ino};
}
/* Leave out name (its stat st) in the folder whose stat is dir. */
static void skip_file_in(pw_job *j, const struct stat *st, const struct stat *dir,
                         const char *name) {
  if (j->nskip == (int)(sizeof j->skip / sizeof j->skip[0]) || !S_ISREG(st->st_mode)) return;
  char *copy = *name ? strdup(name) : NULL;
  if (!copy) return;
  j->skip[j->nskip++] = (pw_skip){.dev = (uint64_t)st->st_dev,
                                  .ino = (uint64_t)st->st_ino,
                                  .dir_dev = (uint64_t)dir->st_dev,
                                  .dir_ino = (uint64_t)dir->st_ino,
                                  .name = copy};
}
void pw_job_guard(pw_job *j, const struct stat *st) {
  if (j->nguard == PW_GUARD_MAX || pw_job_guarded(j, st)) return;
  j->guard[j->nguard].dev = (uint64_t)st->st_dev;
  j->guard[j->nguard++].ino = (uint64_t)st->st_ino;
}
bool pw_job_guarded(const pw_job *j, const struct stat *st) {
  for (int i = 0; i < j->nguard; i++)
    if (j->guard[i].ino == (uint64_t)st->st_ino && j->guard[i].dev == (uint64_t)st->st_dev)
      return true;
  return false;
}
void pw_job_skip_at(pw_job *j, int dirfd, const char *name) {
  struct stat st, dir;
  if (!fstatat(dirfd, name, &st, 0) && !fstat(dirfd, &dir)) skip_file_in(j, &st, &dir, name);
}
void pw_job_skip_path(pw_job *j, const char *path) {
  struct stat st, dir;
  const char *slash = strrchr(path, '/');
  char *folder = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
  if (folder && !stat(path, &st) && !stat(folder, &dir))
    skip_file_in(j, &st, &dir, slash ? slash + 1 : path);
  free(folder);
}
bool pw_job_stopping(const pw_job *j) { return pw_queue_stopped((pw_queue *)&j->queue); }
bool pw_job_failed(const pw_job *j) { return atomic_load(&j->failed); }
void pw_job_set_out_bytes(pw_job *j, uint64_t n) {
  atomic_store_explicit(&j->out_bytes, n, memory_order_relaxed);
}
void pw_job_out_writing(pw_job *j, int delta) {
  atomic_fetch_add_explicit(&j->out_writing, delta, memory_order_relaxed);
}
/* Record an error; a row the --errors file could not take fails the job. */
static void note(pw_job *j, int op, int err, const char *path, size_t len) {
  int r = pw_errlog_add(&j->errors, op, err, path, len);
  /* (-ECANCELED: cancelled while its reader took no more; the job ends as cancelled) */
  if (r && r != -ECANCELED) pw_job_fail(j, -r, "cannot write the errors file: %s", strerror(-r));
}
void pw_job_note_error(pw_job *j, int op, int err, const char *path, size_t len) {
  note(j, op, err, path, len);
}
void pw_job_note_text(pw_job *j, int op, const char *path, size_t len, const char *text) {
  int r = pw_errlog_add_text(&j->errors, op, 0, path, len, text);
  if (r && r != -ECANCELED) pw_job_fail(j, -r, "cannot write the errors file: %s", strerror(-r));
}
void pw_job_badname(pw_job *j, const char *path, size_t len) {
  pw_errlog_badname(&j->errors, path, len);
}

pw_job *pw_worker_job(const pw_worker *w) { return w->job; }
void **pw_worker_state(pw_worker *w) { return &w->vstate; }
void pw_count(pw_worker *w, int c, uint64_t n) { w->local[c] += n; }

bool pw_out_of_resources(int err) { return err == EMFILE || err == ENFILE || err == ENOMEM; }

bool pw_job_wait_fd(const pw_job *j, int err, long *waited) {
  if ((err != EMFILE && err != ENFILE) || *waited >= 10000 || pw_job_stopping(j)) return false;
  long ms = *waited ? (*waited < 256 ? *waited : 256) : 1; /* 1, 1, 2, 4 ... 256 ms */
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
  *waited += ms;
  return true;
}

/* The fatal error of a resource pw_out_of_resources says the tool lacks. */
static void fail_resources(pw_job *j, int err) {
  if (err == ENOMEM)
    pw_job_fail(j, err, "%s: the system is out of memory", strerror(err));
  else
    pw_job_fail(j, err, "%s: raise the limit of open files (ulimit -n) or use fewer threads",
                strerror(err));
}

void pw_worker_error(pw_worker *w, int op, int err, const char *path, size_t len) {
  note(w->job, op, err, path, len);
  if (w->job->vis->error) w->job->vis->error(w, op, err, path, len);
  /* Out of file descriptors (or kernel memory) is the tool's failure, not
     a fact of the tree: going on would leave folders (or a repair's
     entries) out of a run that ends as if complete. */
  if (pw_out_of_resources(err)) fail_resources(w->job, err);
}

void pw_job_fail(pw_job *j, int err, const char *fmt, ...) {
  pthread_mutex_lock(&j->fatal_mu);
  if (!atomic_load(&j->failed)) {
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(j->fatal_msg, sizeof j->fatal_msg, fmt, ap);
    /* Longer than the message holds (a long root's path): its middle is cut
       ("..."), so that the start and the reason at its end stay, each cut
       at a whole UTF-8 character. */
    char *full = n >= (int)sizeof j->fatal_msg ? malloc((size_t)n + 1) : NULL;
    if (full && vsnprintf(full, (size_t)n + 1, fmt, again) == n) {
      size_t cap = sizeof j->fatal_msg - 1, head = cap / 4, tail = cap - head - 3;
      while (head && ((unsigned char)full[head] & 0xc0) == 0x80) head--;
      size_t from = (size_t)n - tail;
      while (from < (size_t)n && ((unsigned char)full[from] & 0xc0) == 0x80) from++;
      memcpy(j->fatal_msg, full, head);
      memcpy(j->fatal_msg + head, "...", 3);
      memcpy(j->fatal_msg + head + 3, full + from, (size_t)n - from + 1);
    }
    free(full);
    va_end(again);
    va_end(ap);
    j->fatal_err = err;
    atomic_store(&j->failed, true);
  }
  pthread_mutex_unlock(&j->fatal_mu);
  pw_queue_stop(&j->queue);
  if (j->vis->cancel) j->vis->cancel(j);
}

/* ---- life cycle ------------------------------------------------------------ */

/* The part of a frontier path below the root (the root as printed, then
   '/'), or NULL when the path is not below it. */
static const char *below_root(const pw_job *j, const char *path, size_t len) {
  const char *r = j->root->path;
  size_t rl = j->root_len;
  if (rl == 1 && r[0] == '/') return len > 1 && path[0] == '/' ? path + 1 : NULL;
  if (len <= rl + 1 || memcmp(path, r, rl) || path[rl] != '/') return NULL;
  return path + rl + 1;
}

int pw_job_open_front(const pw_job *j, const pw_item *it, int flags) {
  const char *rel = below_root(j, it->path, it->len), *last;
  if (!rel) {
    errno = EINVAL;
    return -1;
  }
  int pfd = pw_open_parent_below(j->front_fd, rel, it->len - (size_t)(rel - it->path), &last,
                                 j->opts->one_fs ? &j->root_st.st_dev : NULL);
  if (pfd < 0) return -1;
  int fd = openat(pfd, last, flags | O_NOFOLLOW);
  int e = errno;
  close(pfd);
  errno = e;
  return fd;
}

/* The folders on a frontier folder's way from the root, as a whole run's
   walked path has them above it (pw_anc, for walked_once's cycle test): a
   folder on the way that is one above it (a bind mount of the root, or of
   a folder above, inside the tree; a server's loop) is where a whole run
   stops (its row and a loop error, told by the shard that lists it), so
   nothing below it is walked. */
typedef struct {
  pw_anc *anc; /* a reference: the root, then each folder on the way */
  bool cycle;  /* the way went through a folder above it */
} front_way;

static int front_way_step(void *arg, int fd, const struct stat *st) {
  front_way *w = arg;
  int m = pw_anc_find(w->anc, st);
  if (m == PW_ANC_SAME || (m == PW_ANC_OTHER_CTIME && !pw_fd_on_fuse(fd))) {
    w->cycle = true;
    return ELOOP;
  }
  pw_anc *a = pw_anc_new(w->anc, st);
  if (!a) return ENOMEM;
  pw_anc_put(w->anc);
  w->anc = a;
  return 0;
}

/* Fail the job naming frontier folder `path` as the error lines show a
   name (pw_escape_path: a newline as \n, a backslash as \\), so that the
   message is one line and no two names read the same, then `why` and
   `more` (the root, as the job's other messages give it). */
static void front_fail(pw_job *j, const char *path, size_t len, const char *why,
                       const char *more) {
  char *shown = malloc(4 * len + 1);
  if (!shown) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return;
  }
  shown[pw_escape_path(shown, path, len)] = 0;
  pw_job_fail(j, EINVAL, "frontier folder %s%s%s", shown, why, more);
  free(shown);
}

/* A shard's frontier folders ("DEV INO PARENT_INO DEPTH PATH" each), as
   items with the depth of a whole run.  Each is reached from the root one
   name at a time, following no link (a folder on the way swapped for a
   link leads nowhere else), and the folder there now is walked, with its
   parent's inode as it is now, as a whole run prints them.  A folder that
   is gone is an error, a link on its way or no folder there a race
   (ENOTDIR: not a folder): neither is walked.  One that cannot be reached
   for want of descriptors (after the wait a worker's folder open makes)
   or kernel memory fails the job: a shard must not end as if complete
   without it.  With -x, one on another
   device than the root's, or below a folder that is, is left out with no
   error, as a whole run leaves it out; so is one below a folder on the way
   that is a folder above that one (front_way: a loop).  Each item holds
   its way (pw_anc), so that walked_once tells a loop below it, or at it,
   as a whole run does.  Returns -EINVAL for a malformed entry. */
static int frontier(pw_job *j) {
  const pw_strlist *f = &j->opts->frontier;
  if (!f->n) return 0;
  j->front_fd = j->root_fd >= 0
                  ? j->root_fd
                  : pw_open_path(j->root->path, j->root_len, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  j->root_fd = -1;
  struct stat rst;
  if (j->front_fd < 0 || fstat(j->front_fd, &rst) || rst.st_dev != j->root->st.st_dev || rst.st_ino != j->root->st.st_ino) {
    int e = j->front_fd < 0 ? errno : ESTALE;
    pw_job_fail(j, e, "%s: %s", j->opts->root, strerror(e));
    return 0;
  }
  for (size_t i = 0; i < f->n; i++) {
    const char *s = f->items[i];
    char *end;
    /* DEV INO PARENT_INO: the plan's, checked for form only (the folder at
       the path now, and its parent now, are what a whole run prints) */
    for (int k = 0; k < 3; k++) {
      errno = 0;
      (void)strtoull(s, &end, 10);
      if (errno || end == s || *end != ' ') return -EINVAL;
      s = end + 1;
    }
    long depth = strtol(s, &end, 10);
    if (end == s || *end != ' ' || depth < 0 || depth > INT32_MAX) return -EINVAL;
    const char *path = end + 1;
    size_t len = f->lens[i] - (size_t)(path - f->items[i]);
    const char *rel = below_root(j, path, len), *last;
    if (!rel) { /* which folder, and why: the caller may have built it by hand */
      front_fail(j, path, len, " is not below the root ", j->opts->root);
      return 0;
    }
    struct stat st, parent;
    int err = 0;
    /* with -x, every folder on the way on the root's device: a mount on
       the way (made after the plan) is where a whole run stops, so the
       folder below it is not walked, and is no error (a whole run gives it
       no row and no error either) */
    int pfd;
    front_way way = {0};
    /* out of descriptors: waited for as a worker's folder open waits
       (another job of the process may free some) */
    for (long waited = 0;;) {
      pw_anc_put(way.anc);
      way = (front_way){.anc = pw_anc_new(NULL, &rst)};
      if (!way.anc) return -ENOMEM;
      pfd = pw_open_parent_below_each(j->front_fd, rel, len - (size_t)(rel - path), &last,
                                      j->opts->one_fs ? &j->root_st.st_dev : NULL,
                                      front_way_step, &way);
      if (pfd >= 0 || way.cycle || !pw_job_wait_fd(j, errno, &waited)) break;
    }
    if (pfd < 0) {
      err = errno;
      pw_anc_put(way.anc);
      way.anc = NULL;
      if (err == EINVAL) {
        front_fail(j, path, len, ": a name on its way from the root is empty, \".\" or \"..\"",
                   "");
        return 0;
      }
      /* below a loop on the way: a whole run never gets there (no row, no
         error: the loop is told where it is listed) */
      if (err == EXDEV || way.cycle) continue;
    } else {
      if (fstatat(pfd, last, &st, AT_SYMLINK_NOFOLLOW) || fstat(pfd, &parent)) err = errno;
      close(pfd);
    }
    if (err) { /* not walked: nothing below it to hold its way */
      pw_anc_put(way.anc);
      way.anc = NULL;
    }
    if (err && err != ELOOP && err != ENOTDIR) {
      note(j, PW_OP_OPEN, err, path, len);
      /* the tool's lack (descriptors, memory), not the tree's: the shard
         fails, never ends as if complete without this folder */
      if (pw_out_of_resources(err)) {
        fail_resources(j, err);
        return 0;
      }
      continue;
    }
    /* A link or a file on the way (the open said ENOTDIR, or ELOOP), or no
       folder there now: ENOTDIR, as opening it would say (O_DIRECTORY |
       O_NOFOLLOW), and as the walker's open error says for a folder
       swapped for a link or a file. */
    if (!err && !S_ISDIR(st.st_mode)) err = ENOTDIR;
    if (err) {
      pw_anc_put(way.anc);
      note(j, PW_OP_RACE, err, path, len);
      continue;
    }
    /* Another folder than the planned one at this path is walked,
       as a whole run would walk it; with -x, not when on another device (a
       whole run gives it no row either). */
    if (j->opts->one_fs && st.st_dev != j->root_st.st_dev) {
      pw_anc_put(way.anc);
      continue;
    }
    /* following links, an item's own node is on its walked path too
       (queue_subfolder); else walked_once adds it once it is opened */
    if (j->opts->follow) {
      pw_anc *self = pw_anc_new(way.anc, &st);
      pw_anc_put(way.anc);
      way.anc = self;
      if (!self) return -ENOMEM;
    }
    pw_item *it = pw_item_new(path, len);
    if (!it) {
      pw_anc_put(way.anc);
      return -ENOMEM;
    }
    it->anc = way.anc; /* (the item holds the reference) */
    it->st = st;
    it->parent_ino = (uint64_t)parent.st_ino;
    it->depth = (int32_t)depth;
    it->name_off = (size_t)(last - path);
    it->front = true;
    it->user = j->root->user;
    it->next = j->front;
    if (!j->front) j->front_last = it;
    j->front = it;
    j->nfront++;
  }
  return 0;
}

/* The job with its options, queue and root; a fatal error (no threads) when
   the root is unusable. */
static pw_job *create(const pw_opts *src, const pw_visitor *vis) {
  pw_job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  j->vis = vis;
  j->front_fd = -1;
  j->root_fd = -1;
  atomic_init(&j->status, -1);
  atomic_init(&j->cancelled, false);
  atomic_init(&j->failed, false);
  pthread_mutex_init(&j->fatal_mu, NULL);
  pthread_mutex_init(&j->wait_mu, NULL);
  pthread_mutex_init(&j->cur_mu, NULL);
  pthread_mutex_init(&j->hold_mu, NULL);
  pthread_mutex_init(&j->spawn_mu, NULL);
  atomic_init(&j->nstarted, 0);
  if (pw_queue_init(&j->queue)) {
    free(j);
    return NULL;
  }
  j->opts = pw_opts_clone(src);
  if (!j->opts || pw_errlog_init(&j->errors, j->opts->max_errors, j->opts->error_fd)) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return j;
  }
  /* A descriptor that cannot take the rows fails now, not at the first
     error (after hours of walking, the output thrown away). */
  int csv_fl = j->opts->errors_csv_fd >= 0 ? fcntl(j->opts->errors_csv_fd, F_GETFL) : O_WRONLY;
  if (csv_fl < 0 || (csv_fl & O_ACCMODE) == O_RDONLY) {
    pw_job_fail(j, EBADF, "the errors file's descriptor %d is %s", j->opts->errors_csv_fd,
                csv_fl < 0 ? "not open" : "open for reading only");
    return j;
  }
  j->errors.csv_fd = j->opts->errors_csv_fd;
  j->errors.clear_line = j->opts->error_clear;
  j->errors.csv_tty = j->errors.csv_fd >= 0 && isatty(j->errors.csv_fd);
  pw_errlog_unblock(&j->errors);
  struct pw_opts *o = j->opts;
  if (pw_strset_build(&j->excludes, o->excludes.items, o->excludes.lens, o->excludes.n)) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return j;
  }
  for (int i = 0; i <= o->n_skip_fds; i++) { /* and the error file */
    int fd = i < o->n_skip_fds ? o->skip_fds[i] : o->errors_csv_fd;
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) pw_job_skip_file(j, &st);
  }
  for (size_t i = 0; i < o->skip_paths.n; i++) pw_job_skip_path(j, o->skip_paths.items[i]);
  j->nthreads = o->threads ? o->threads : PW_DEFAULT_THREADS;
  j->governed = !o->threads;
  if (!o->root || !o->root_len) {
    pw_job_fail(j, EINVAL, "no root folder given");
    return j;
  }
  /* Trailing slashes are dropped ("/data/" prints as "/data"); "/" stays. */
  size_t len = o->root_len;
  while (len > 1 && o->root[len - 1] == '/') len--;
  j->root_len = len;
  pw_item *root = pw_item_new(o->root, len);
  if (!root) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return j;
  }
  root->is_root = true;
  root->depth = -1;
  /* The root may be a symbolic link to a folder (like find -H); nothing
     below it is ever followed.  It is opened here and its facts are that
     descriptor's, which its worker then lists (open_once): looked up twice
     (a stat now, an open later), a ROOT renamed away or replaced in
     between would be its own open or race error, its row alone in a
     report that ends with status 0.  One that cannot be opened (a folder
     that can be stat'ed but not listed, mode 000) is stat'ed; its worker
     then says why it cannot be listed. */
  int rfd = pw_open_path(root->path, len, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rfd >= 0 && !fstat(rfd, &root->st)) {
    j->root_fd = rfd;
  } else if (rfd >= 0) {
    int e = errno;
    close(rfd);
    free(root);
    pw_job_fail(j, e, "%s: %s", o->root, strerror(e));
    return j;
  } else if (stat(root->path, &root->st)) {
    int e = errno;
    free(root);
    pw_job_fail(j, e, "%s: %s", o->root, strerror(e));
    return j;
  }
  if (!S_ISDIR(root->st.st_mode)) {
    free(root);
    pw_job_fail(j, ENOTDIR, "%s: %s", o->root, strerror(ENOTDIR));
    return j;
  }
  if (o->root_real) {
    /* The folder the caller checked by its real path must be the folder
       walked: a path looked up twice can lead to two folders when someone
       swaps a folder on the way for a link between the lookups. */
    int fd = pw_open_nofollow(o->root_real);
    struct stat at;
    int err = fd < 0 || fstat(fd, &at) ? errno : 0;
    if (fd >= 0) close(fd);
    if (err == ELOOP || err == ENOTDIR || err == ENOENT ||
        (!err && (at.st_dev != root->st.st_dev || at.st_ino != root->st.st_ino))) {
      free(root);
      pw_job_fail(j, ESTALE, "%s changed while starting (it is no longer the folder %s): "
                  "a folder on the way swapped for a link?", o->root, o->root_real);
      return j;
    }
    if (err) { /* the check itself could not be made: no walk */
      free(root);
      pw_job_fail(j, err, "%s: cannot check it is %s: %s", o->root, o->root_real, strerror(err));
      return j;
    }
  }
  j->root_dev = root->st.st_dev;
  j->root_st = root->st;
  j->root = root;
  if (o->follow && !(root->anc = pw_anc_new(NULL, &root->st))) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return j;
  }
  int e = frontier(j);
  if (e) pw_job_fail(j, -e, e == -EINVAL ? "bad frontier folder entry" : "out of memory");
  return j;
}

/* Start one more worker thread; false when none can be (all started, the
   walk is over, or out of memory).  Workers are started lazily: a governed
   job starts one per CPU and more only when the governor lets more read, so
   a walk that needs two readers pays for two threads (in a Deno process
   each thread's start costs its share of the runtime's thread-local
   storage: 13 MiB for 64 threads). */
static bool spawn(pw_job *j) {
  bool ok = false;
  pthread_mutex_lock(&j->spawn_mu);
  int i = atomic_load(&j->nstarted);
  /* Count it live before it exists, but never revive a walk whose workers
     all ended (their last one has already told the visitor). */
  int live = atomic_load(&j->live);
  while (i < j->nthreads && live > 0 && !atomic_compare_exchange_weak(&j->live, &live, live + 1)) {
  }
  if (i < j->nthreads && live > 0) {
    pw_worker *w = &j->workers[i];
    w->job = j;
    if (i >= j->nalloc) j->nalloc = i + 1;
    /* What a start that failed set up is kept for the next try, never
       made again over it (a listing buffer lost, the visitor's state
       lost, its writer counted twice); pw_job_free frees it. */
    if (!w->ds_ready && !pw_dirstream_init(&w->ds)) w->ds_ready = true;
    if (w->ds_ready && !w->vis_ready && pw_path_reserve(w, 4096) &&
        (!j->vis->worker_start || !j->vis->worker_start(w)))
      w->vis_ready = true;
    int e = !w->vis_ready ? ENOMEM
                          : pw_thread_start(&w->thread, &j->attr, pw_worker_main, w, "pwalk-worker");
    if (e) {
      if (!j->spawn_err) j->spawn_err = e;
      /* not started: as if it had ended at once */
      if (atomic_fetch_sub(&j->live, 1) == 1 && j->vis->workers_done) j->vis->workers_done(j);
    } else {
      atomic_store(&j->nstarted, i + 1);
      ok = true;
    }
  }
  pthread_mutex_unlock(&j->spawn_mu);
  return ok;
}

/* The governor lets `readers` read: make sure that many workers exist. */
static void grow(void *arg, int readers) {
  pw_job *j = arg;
  while (atomic_load(&j->nstarted) < readers && spawn(j)) {
  }
}

/* The governor's view of the visitor's backpressure (engine.h's held_back). */
static bool held_back(void *arg) {
  pw_job *j = arg;
  return j->vis->held_back && j->vis->held_back(j);
}

/* Worker i's Linux thread id, or 0 while it has none (not started, or not
   running yet). */
static int worker_tid(void *arg, int i) {
  pw_job *j = arg;
  return i < atomic_load(&j->nstarted) ? atomic_load(&j->workers[i].tid) : 0;
}

/* Start the worker threads (nothing after a fatal error). */
static void launch(pw_job *j) {
  j->workers = calloc((size_t)j->nthreads, sizeof *j->workers);
  if (!j->workers) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return;
  }
  if (j->opts->frontier.n) { /* a shard: its frontier folders, not the root */
    if (j->nfront) pw_queue_push(&j->queue, j->front, j->front_last, j->nfront);
    j->front = NULL;
  } else {
    pw_queue_push(&j->queue, j->root, j->root, 1);
    j->root = NULL;
  }
  pthread_attr_init(&j->attr);
  pthread_attr_setstacksize(&j->attr, 256 * 1024);
  j->started = true;
  /* One live count held while the first workers start, so that none of
     them can end the walk in between. */
  atomic_store(&j->live, 1);
  pw_cpus cpus;
  pw_cpus_read(&cpus);
  int first = j->governed && cpus.count < j->nthreads ? cpus.count : j->nthreads;
  for (int i = 0; i < first && spawn(j);) i++;
  /* If the governor cannot start, every worker reads, as with a count given. */
  if (j->governed && pw_governor_start(&j->gov, &j->queue, &cpus, j->nthreads, grow, held_back,
                                      worker_tid, j))
    grow(j, j->nthreads);
  pw_cpus_free(&cpus);
  int n = atomic_load(&j->nstarted);
  if (atomic_fetch_sub(&j->live, 1) == 1 && j->vis->workers_done) j->vis->workers_done(j);
  if (!n) {
    /* a thread limit (ulimit -u, a cgroup's pids.max) answers EAGAIN */
    int e = j->spawn_err ? j->spawn_err : EAGAIN;
    pw_job_fail(j, e, "cannot start worker threads: %s", strerror(e));
  }
}

pw_job *pw_job_start(const pw_opts *o, const pw_visitor *vis, void *arg) {
  pw_job *j = create(o, vis);
  if (!j) return NULL;
  if (!pw_job_failed(j) && vis->job_init) (void)vis->job_init(j, arg);
  if (!pw_job_failed(j)) launch(j);
  return j;
}

PW_API int32_t pw_job_wait(pw_job *j) {
  pthread_mutex_lock(&j->wait_mu);
  if (!j->waited) {
    /* Join the workers, then the governor (it may have started more while
       the first ones were joined), then any it started. */
    int joined = 0;
    if (j->started) {
      for (; joined < atomic_load(&j->nstarted); joined++)
        pthread_join(j->workers[joined].thread, NULL);
    }
    pw_governor_stop(&j->gov);
    if (j->started) {
      for (; joined < atomic_load(&j->nstarted); joined++)
        pthread_join(j->workers[joined].thread, NULL);
      pthread_attr_destroy(&j->attr);
    }
    j->waited = true;
    pw_job_progress(j, j->final);
    int status = pw_job_failed(j) ? PW_FAILED : atomic_load(&j->cancelled) ? PW_CANCELLED : PW_OK;
    if (j->vis->job_end) j->vis->job_end(j, status);
    /* job_end may fail (e.g. the final write), or give up for a cancel
       that came after the status above: re-read it. */
    if (pw_job_failed(j)) status = PW_FAILED;
    else if (j->end_cancelled) status = PW_CANCELLED;
    pw_job_progress(j, j->final);
    atomic_store(&j->status, status);
  }
  pthread_mutex_unlock(&j->wait_mu);
  return atomic_load(&j->status);
}

void pw_job_end_cancelled(pw_job *j) { j->end_cancelled = true; } /* (job_end: pw_job_wait's thread) */

PW_API void pw_job_cancel(pw_job *j) {
  if (!j) return;
  atomic_store(&j->cancelled, true);
  pw_errlog_cancel(&j->errors);
  pw_queue_stop(&j->queue);
  if (j->vis->cancel) j->vis->cancel(j);
}

PW_API int32_t pw_job_next(pw_job *j, uint64_t *out) {
  return j->vis->next ? j->vis->next(j, out) : 0;
}

PW_API void pw_job_free(pw_job *j) {
  if (!j) return;
  pw_job_cancel(j);
  pw_job_wait(j);
  if (j->workers) {
    for (int i = 0; i < j->nalloc; i++) {
      if (j->vis->worker_free) j->vis->worker_free(&j->workers[i]);
      pw_dirstream_fini(&j->workers[i].ds);
      free(j->workers[i].path);
      free(j->workers[i].held);
    }
    free(j->workers);
  }
  if (j->vis->job_free) j->vis->job_free(j);
  for (int i = 0; i < j->nskip; i++) free(j->skip[i].name);
  if (j->root) pw_item_free(&j->queue, j->root);
  if (j->front_fd >= 0) close(j->front_fd);
  if (j->root_fd >= 0) close(j->root_fd);
  while (j->front) {
    pw_item *n = j->front == j->front_last ? NULL : j->front->next;
    pw_item_free(&j->queue, j->front);
    j->front = n;
  }
  pw_strset_free(&j->excludes);
  if (j->opts) pw_errlog_fini(&j->errors);
  for (uint32_t i = 0; i < j->nholds; i++) {
    for (uint32_t k = 0; j->holds[i].items && k < j->holds[i].n; k++)
      pw_item_free(&j->queue, j->holds[i].items[k]);
    free(j->holds[i].items);
  }
  free(j->holds);
  pw_queue_fini(&j->queue);
  pw_opts_free(j->opts);
  pthread_mutex_destroy(&j->fatal_mu);
  pthread_mutex_destroy(&j->wait_mu);
  pthread_mutex_destroy(&j->cur_mu);
  pthread_mutex_destroy(&j->hold_mu);
  pthread_mutex_destroy(&j->spawn_mu);
  free(j);
}

/* ---- held walks ------------------------------------------------------------ */

uint32_t pw_job_hold(pw_job *j, pw_item **items, uint32_t n) {
  pthread_mutex_lock(&j->hold_mu);
  uint32_t token = j->hold_free;
  if (token) {
    j->hold_free = j->holds[token - 1].next_free;
  } else {
    uint32_t cap = j->nholds ? j->nholds * 2 : 64;
    pw_held *h = realloc(j->holds, cap * sizeof *h);
    if (!h) {
      pthread_mutex_unlock(&j->hold_mu);
      for (uint32_t k = 0; k < n; k++) pw_item_free(&j->queue, items[k]);
      free(items);
      pw_job_fail(j, ENOMEM, "out of memory");
      return 0;
    }
    j->holds = h;
    for (uint32_t i = j->nholds; i < cap; i++)
      h[i] = (pw_held){NULL, 0, i + 1 < cap ? i + 2 : 0};
    h[cap - 1].next_free = 0;
    token = j->nholds + 1;
    j->hold_free = j->nholds + 1 < cap ? j->nholds + 2 : 0;
    j->nholds = cap;
  }
  j->holds[token - 1] = (pw_held){items, n, 0};
  pw_queue_hold(&j->queue);
  pthread_mutex_unlock(&j->hold_mu);
  return token;
}

PW_API int32_t pw_walk_descend(pw_job *j, uint32_t token, const uint8_t *mask, uint32_t n) {
  pthread_mutex_lock(&j->hold_mu);
  if (!token || token > j->nholds || !j->holds[token - 1].items ||
      (mask && j->holds[token - 1].n != n)) {
    pthread_mutex_unlock(&j->hold_mu);
    return -EINVAL;
  }
  pw_held h = j->holds[token - 1];
  j->holds[token - 1] = (pw_held){NULL, 0, j->hold_free};
  j->hold_free = token;
  pthread_mutex_unlock(&j->hold_mu);
  pw_item *first = NULL, *last = NULL;
  size_t kept = 0;
  for (uint32_t i = h.n; i-- > 0;) { /* the first listed ends on top of the stack */
    pw_item *it = h.items[i];
    if (mask && !mask[i]) {
      pw_item_free(&j->queue, it);
      continue;
    }
    it->next = first;
    if (!first) last = it;
    first = it;
    kept++;
  }
  free(h.items);
  pw_queue_release(&j->queue, first, last, kept);
  return 0;
}

/* ---- what a job reports ---------------------------------------------------- */

PW_API void pw_job_progress(pw_job *j, uint64_t *out) {
  if (atomic_load(&j->status) >= 0) {
    memcpy(out, j->final, sizeof j->final);
    return;
  }
  memset(out, 0, PW_C_COUNT * sizeof *out);
  if (j->workers)
    for (int i = 0, n = atomic_load(&j->nstarted); i < n; i++)
      for (int c = 0; c < PW_C_COUNT; c++)
        out[c] += atomic_load_explicit(&j->workers[i].pub.c[c], memory_order_relaxed);
  out[PW_C_ERRORS] = pw_errlog_count(&j->errors);
  out[PW_C_OUT_BYTES] = atomic_load_explicit(&j->out_bytes, memory_order_relaxed);
  out[PW_C_OUT_WRITING] = (uint64_t)atomic_load_explicit(&j->out_writing, memory_order_relaxed);
}

PW_API int64_t pw_job_current(pw_job *j, uint8_t *buf, size_t cap) {
  pthread_mutex_lock(&j->cur_mu);
  size_t len = j->cur_len, kept = len < sizeof j->cur ? len : sizeof j->cur;
  size_t n = kept < cap ? kept : cap;
  if (buf && n) memcpy(buf, j->cur + kept - n, n); /* buf may be NULL when cap is 0 */
  pthread_mutex_unlock(&j->cur_mu);
  return (int64_t)len;
}

PW_API uint32_t pw_job_error_count(pw_job *j) {
  pthread_mutex_lock(&j->errors.mu);
  uint32_t n = j->errors.n;
  pthread_mutex_unlock(&j->errors.mu);
  return n;
}

PW_API int64_t pw_job_error(pw_job *j, uint32_t i, uint8_t *buf, size_t cap) {
  pthread_mutex_lock(&j->errors.mu);
  if (i >= j->errors.n) {
    pthread_mutex_unlock(&j->errors.mu);
    return -1;
  }
  pw_errdetail *d = &j->errors.items[i];
  const char *op = pw_op_name(d->op);
  const char *msg = d->text ? d->text : pw_error_text(d->op, d->err);
  char num[16];
  snprintf(num, sizeof num, "%d", d->err);
  size_t lo = strlen(op), lm = strlen(msg), ln = strlen(num);
  size_t total = lo + 1 + lm + 1 + ln + 1 + d->len;
  if (total <= cap) {
    memcpy(buf, op, lo + 1);
    memcpy(buf + lo + 1, msg, lm + 1);
    memcpy(buf + lo + lm + 2, num, ln + 1);
    memcpy(buf + lo + lm + ln + 3, d->path, d->len);
  }
  pthread_mutex_unlock(&j->errors.mu);
  return (int64_t)total;
}

PW_API int64_t pw_job_message(pw_job *j, uint8_t *buf, size_t cap, int32_t *err) {
  pthread_mutex_lock(&j->fatal_mu);
  size_t len = strlen(j->fatal_msg);
  if (buf && len <= cap) memcpy(buf, j->fatal_msg, len); /* buf may be NULL when cap is 0 */
  if (err) *err = j->fatal_err;
  pthread_mutex_unlock(&j->fatal_mu);
  return (int64_t)len;
}
