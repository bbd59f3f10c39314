/* engine.c — see engine.h. */
#define _GNU_SOURCE
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Subfolders are handed to other workers in chains of this many. */
#define PW_CHAIN 32
/* getdents64 buffer per worker. */
#define PW_DENTS_BYTES (64 * 1024)

void pw_worker_error(pw_worker *w, int op, int err, const char *path, size_t len) {
  pw_errlog_add(&w->job->errors, op, err, path, len);
  if (w->job->vis->error) w->job->vis->error(w, op, err, path, len);
}

void pw_job_fail(pw_job *j, int err, const char *fmt, ...) {
  pthread_mutex_lock(&j->fatal_mu);
  if (!j->fatal_msg[0]) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->fatal_msg, sizeof j->fatal_msg, fmt, ap);
    va_end(ap);
    j->fatal_err = err;
  }
  pthread_mutex_unlock(&j->fatal_mu);
  pw_queue_stop(&j->queue);
  if (j->vis->cancel) j->vis->cancel(j);
}

static bool path_reserve(pw_worker *w, size_t need) {
  if (need <= w->path_cap) return true;
  size_t cap = w->path_cap ? w->path_cap : 4096;
  while (cap < need) cap *= 2;
  char *p = realloc(w->path, cap);
  if (!p) return false;
  w->path = p;
  w->path_cap = cap;
  return true;
}

/* Follow mode: remember a folder; false when it was seen before (a cycle
   through a symlink, or a second way to the same folder). */
static bool visit_once(pw_job *j, const struct stat *st) {
  uint64_t dev = (uint64_t)st->st_dev + 1, ino = (uint64_t)st->st_ino; /* dev+1: never 0,0 */
  bool fresh = true;
  pthread_mutex_lock(&j->visited_mu);
  if ((j->visited_n + 1) * 2 > j->visited_cap) {
    size_t cap = j->visited_cap ? j->visited_cap * 2 : 1024;
    uint64_t *t = calloc(cap * 2, sizeof *t);
    if (!t) {
      pthread_mutex_unlock(&j->visited_mu);
      pw_job_fail(j, ENOMEM, "out of memory");
      return false;
    }
    for (size_t i = 0; i < j->visited_cap; i++) {
      if (!j->visited[2 * i]) continue;
      size_t k = (j->visited[2 * i] * 31 + j->visited[2 * i + 1]) * 0x9E3779B97F4A7C15ull & (cap - 1);
      while (t[2 * k]) k = (k + 1) & (cap - 1);
      t[2 * k] = j->visited[2 * i];
      t[2 * k + 1] = j->visited[2 * i + 1];
    }
    free(j->visited);
    j->visited = t;
    j->visited_cap = cap;
  }
  size_t k = (dev * 31 + ino) * 0x9E3779B97F4A7C15ull & (j->visited_cap - 1);
  while (j->visited[2 * k]) {
    if (j->visited[2 * k] == dev && j->visited[2 * k + 1] == ino) {
      fresh = false;
      break;
    }
    k = (k + 1) & (j->visited_cap - 1);
  }
  if (fresh) {
    j->visited[2 * k] = dev;
    j->visited[2 * k + 1] = ino;
    j->visited_n++;
  }
  pthread_mutex_unlock(&j->visited_mu);
  return fresh;
}

static void publish(pw_worker *w) {
  for (int i = 0; i < PW_C_COUNT; i++)
    atomic_store_explicit(&w->pub.c[i], w->local[i], memory_order_relaxed);
}

static void emit(pw_worker *w, const pw_entry *e) {
  w->local[PW_C_ENTRIES]++;
  w->local[PW_C_BYTES] += (uint64_t)e->st->st_size;
  w->local[PW_C_ALLOC_BYTES] += (uint64_t)e->st->st_blocks * 512;
  if (e->is_dir_row) w->local[PW_C_DIRS]++;
  w->job->vis->entry(w, e);
}

static size_t base_offset(const char *path, size_t len) {
  size_t i = len;
  while (i > 0 && path[i - 1] != '/') i--;
  return i;
}

/* Read one folder: rows for its non-folder entries, subfolders queued, then
   the folder's own row with pw_fcount and pw_dirsum. */
static void process_dir(pw_worker *w, pw_item *it, pw_item **first, pw_item **last, size_t *n) {
  pw_job *j = w->job;
  const struct pw_opts *o = j->opts;
  int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (it->is_root || it->via_link ? 0 : O_NOFOLLOW);
  int fd = pw_open_path(it->path, it->len, flags);
  int64_t fcount = 0, dirsum = 0;
  bool raced = false;
  if (fd >= 0 && j->verify_dirs) {
    /* The path may lead elsewhere now (a folder swapped for a link): only
       the very folder that was listed may be read and changed. */
    struct stat now;
    if (fstat(fd, &now) || now.st_dev != it->st.st_dev || now.st_ino != it->st.st_ino) {
      close(fd);
      fd = -1;
      raced = true;
      pw_worker_error(w, PW_OP_RACE, ESTALE, it->path, it->len);
    }
  }
  if (fd < 0) {
    if (!raced) pw_worker_error(w, PW_OP_OPEN, errno, it->path, it->len);
  } else if (!path_reserve(w, it->len + 2 + 256)) {
    pw_job_fail(j, ENOMEM, "out of memory");
  } else {
    memcpy(w->path, it->path, it->len);
    size_t pre = it->len;
    if (pre == 0 || w->path[pre - 1] != '/') w->path[pre++] = '/';
    int32_t cdepth = it->depth + 1;
    bool skip_deep_dirs = o->maxdepth > 0 && cdepth >= o->maxdepth;
    bool leaf_dirs = o->leaf_depth >= 0 && cdepth >= o->leaf_depth;
    pw_entry e = {.parent_ino = it->st.st_ino, .depth = cdepth, .fcount = -1, .dirfd = fd,
                  .selffd = -1, .user = it->user, .listing = ++w->listings};
    pw_dir_begin(&w->ds, fd);
    for (;;) {
      size_t nlen;
      int err;
      const char *name = pw_dir_next(&w->ds, &nlen, &err);
      if (!name) {
        if (err) pw_worker_error(w, PW_OP_READ, err, it->path, it->len);
        break;
      }
      fcount++;
      if (w->path_cap < pre + nlen + 1 && !path_reserve(w, pre + nlen + 1)) {
        pw_job_fail(j, ENOMEM, "out of memory");
        break;
      }
      memcpy(w->path + pre, name, nlen + 1);
      struct stat st;
      if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW)) {
        pw_worker_error(w, PW_OP_STAT, errno, w->path, pre + nlen);
        continue;
      }
      bool via_link = false;
      if (o->follow && S_ISLNK(st.st_mode)) {
        struct stat target; /* a dangling link stays a link */
        if (fstatat(fd, name, &target, 0) == 0) {
          st = target;
          via_link = true;
        }
      }
      if (o->one_fs && st.st_dev != j->root_dev) continue;
      dirsum += st.st_size;
      if (S_ISDIR(st.st_mode)) {
        if (o->nosnap && nlen == 9 && memcmp(name, ".snapshot", 9) == 0) continue;
        if (skip_deep_dirs) continue;
        if (j->excludes.count && pw_strset_has(&j->excludes, w->path, pre + nlen)) continue;
        /* Not entered: no need to ask the visitor whether to descend. */
        if (!leaf_dirs && j->vis->descend && !j->vis->descend(w, w->path, pre + nlen, &st))
          continue;
        e.path = w->path;
        e.len = pre + nlen;
        e.name_off = pre;
        e.st = &st;
        e.via_link = via_link;
        if (j->vis->subdir_refs) {
          e.subdir_ref = true;
          j->vis->entry(w, &e);
          e.subdir_ref = false;
        }
        if (leaf_dirs) { /* shown as an entry, never entered */
          emit(w, &e);
          continue;
        }
        if (o->follow && !visit_once(j, &st)) {
          pw_worker_error(w, PW_OP_LOOP, ELOOP, w->path, pre + nlen);
          continue;
        }
        pw_item *c = pw_item_new(w->path, pre + nlen);
        if (!c) {
          pw_job_fail(j, ENOMEM, "out of memory");
          break;
        }
        c->st = st;
        c->parent_ino = it->st.st_ino;
        c->depth = cdepth;
        c->via_link = via_link;
        c->user = j->vis->child_user ? j->vis->child_user(w, it->user, &st) : it->user;
        c->next = *first;
        if (!*first) *last = c;
        *first = c;
        if (++*n == PW_CHAIN) {
          pw_queue_push(&j->queue, *first, *last, *n);
          *first = *last = NULL;
          *n = 0;
        }
      } else {
        e.path = w->path;
        e.len = pre + nlen;
        e.name_off = pre;
        e.st = &st;
        e.via_link = via_link;
        emit(w, &e);
      }
      if (pw_queue_stopped(&j->queue)) break;
    }
    pw_dir_end(&w->ds);
  }
  if (!pw_queue_stopped(&j->queue)) {
    pw_entry row = {.path = it->path, .len = it->len, .name_off = base_offset(it->path, it->len),
                    .st = &it->st, .parent_ino = it->parent_ino, .depth = it->depth,
                    .is_dir_row = true, .fcount = fcount, .dirsum = dirsum, .dirfd = -1,
                    .selffd = fd, .user = it->user, .via_link = it->via_link,
                    .raced = raced};
    emit(w, &row);
  }
  if (fd >= 0) close(fd);
}

/* Show this folder as the one being read, unless another worker is doing
   the same right now (trylock: never waits). */
static void note_current(pw_job *j, const pw_item *it) {
  if (pthread_mutex_trylock(&j->cur_mu)) return;
  size_t n = it->len < sizeof j->cur ? it->len : sizeof j->cur;
  memcpy(j->cur, it->path + it->len - n, n);
  j->cur_len = it->len;
  pthread_mutex_unlock(&j->cur_mu);
}

static void *worker_main(void *arg) {
  pw_worker *w = arg;
  pw_job *j = w->job;
  pw_item *first = NULL, *last = NULL;
  size_t n = 0;
  bool finished = false;
  for (;;) {
    pw_item *it = pw_queue_next(&j->queue, first, last, n, finished);
    first = last = NULL;
    n = 0;
    if (!it) break;
    note_current(j, it);
    process_dir(w, it, &first, &last, &n);
    free(it);
    finished = true;
    publish(w);
  }
  /* Cancelled with subfolders not yet handed over: they were never queued. */
  while (first) {
    pw_item *next = first->next;
    free(first);
    if (first == last) break;
    first = next;
  }
  if (j->vis->worker_end) j->vis->worker_end(w);
  publish(w);
  if (atomic_fetch_sub(&j->live, 1) == 1 && j->vis->workers_done) j->vis->workers_done(j);
  return NULL;
}

static int default_threads(void) { return PW_DEFAULT_THREADS; }

pw_job *pw_job_create(const pw_opts *src, const pw_visitor *vis) {
  pw_job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  j->vis = vis;
  atomic_init(&j->status, -1);
  atomic_init(&j->cancelled, false);
  pthread_mutex_init(&j->fatal_mu, NULL);
  pthread_mutex_init(&j->wait_mu, NULL);
  pthread_mutex_init(&j->visited_mu, NULL);
  pthread_mutex_init(&j->cur_mu, NULL);
  if (pw_queue_init(&j->queue)) {
    free(j);
    return NULL;
  }
  j->opts = pw_opts_clone(src);
  if (!j->opts || pw_errlog_init(&j->errors, j->opts->max_errors, j->opts->error_fd)) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return j;
  }
  j->errors.csv_fd = j->opts->errors_csv_fd;
  struct pw_opts *o = j->opts;
  if (pw_strset_build(&j->excludes, o->excludes, o->exclude_lens, o->n_excludes)) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return j;
  }
  j->nthreads = o->threads ? o->threads : default_threads();
  j->governed = !o->threads;
  if (!o->root || !o->root_len) {
    pw_job_fail(j, EINVAL, "no root folder given");
    return j;
  }
  /* Trailing slashes are dropped ("/data/" prints as "/data"); "/" stays. */
  size_t len = o->root_len;
  while (len > 1 && o->root[len - 1] == '/') len--;
  pw_item *root = pw_item_new(o->root, len);
  if (!root) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return j;
  }
  root->is_root = true;
  root->depth = -1;
  /* The root may be a symbolic link to a folder (like find -H); nothing
     below it is ever followed. */
  if (stat(root->path, &root->st)) {
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
  j->root_dev = root->st.st_dev;
  j->root = root;
  if (o->follow) visit_once(j, &root->st);
  return j;
}

void pw_job_launch(pw_job *j) {
  if (!j->root) return; /* fatal error already recorded */
  j->workers = calloc((size_t)j->nthreads, sizeof *j->workers);
  if (!j->workers) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return;
  }
  pw_queue_push(&j->queue, j->root, j->root, 1);
  j->root = NULL;
  /* If the governor cannot start, every worker reads, as with a count given. */
  if (j->governed) (void)pw_governor_start(&j->gov, &j->queue, pw_cpu_count(), j->nthreads);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  int started = 0;
  atomic_store(&j->live, j->nthreads);
  for (int i = 0; i < j->nthreads; i++) {
    pw_worker *w = &j->workers[i];
    w->job = j;
    j->nalloc = i + 1;
    if (pw_dirstream_init(&w->ds, PW_DENTS_BYTES) || !path_reserve(w, 4096) ||
        (j->vis->worker_start && j->vis->worker_start(w))) {
      pw_job_fail(j, ENOMEM, "out of memory");
      break;
    }
    if (pthread_create(&w->thread, &attr, worker_main, w)) break;
    started++;
  }
  pthread_attr_destroy(&attr);
  int missing = j->nthreads - started;
  if (missing && atomic_fetch_sub(&j->live, missing) == missing && j->vis->workers_done)
    j->vis->workers_done(j);
  j->nthreads = started;
  if (!started) pw_job_fail(j, EAGAIN, "cannot start worker threads");
  j->started = true;
}

PW_API int32_t pw_job_wait(pw_job *j) {
  pthread_mutex_lock(&j->wait_mu);
  if (!j->waited) {
    if (j->started)
      for (int i = 0; i < j->nthreads; i++) pthread_join(j->workers[i].thread, NULL);
    pw_governor_stop(&j->gov);
    j->waited = true;
    pw_job_progress(j, j->final);
    int status = j->fatal_msg[0] ? PW_FAILED
                 : atomic_load(&j->cancelled) ? PW_CANCELLED
                                               : PW_OK;
    if (j->vis->job_end) j->vis->job_end(j, status);
    /* job_end may fail (e.g. the final write): re-read the status. */
    status = j->fatal_msg[0] ? PW_FAILED : status;
    pw_job_progress(j, j->final);
    atomic_store(&j->status, status);
  }
  pthread_mutex_unlock(&j->wait_mu);
  return atomic_load(&j->status);
}

PW_API void pw_job_cancel(pw_job *j) {
  if (!j) return;
  atomic_store(&j->cancelled, true);
  pw_queue_stop(&j->queue);
  if (j->vis->cancel) j->vis->cancel(j);
}

PW_API void pw_job_progress(pw_job *j, uint64_t *out) {
  if (atomic_load(&j->status) >= 0) {
    memcpy(out, j->final, sizeof j->final);
    return;
  }
  memset(out, 0, PW_C_COUNT * sizeof *out);
  if (j->workers)
    for (int i = 0; i < j->nthreads; i++)
      for (int c = 0; c < PW_C_COUNT; c++)
        out[c] += atomic_load_explicit(&j->workers[i].pub.c[c], memory_order_relaxed);
  out[PW_C_ERRORS] = pw_errlog_count(&j->errors);
  out[PW_C_OUT_BYTES] = atomic_load_explicit(&j->out_bytes, memory_order_relaxed);
}

PW_API int64_t pw_job_current(pw_job *j, uint8_t *buf, size_t cap) {
  pthread_mutex_lock(&j->cur_mu);
  size_t len = j->cur_len, kept = len < sizeof j->cur ? len : sizeof j->cur;
  size_t n = kept < cap ? kept : cap;
  memcpy(buf, j->cur + kept - n, n);
  pthread_mutex_unlock(&j->cur_mu);
  return (int64_t)len;
}

PW_API uint32_t pw_job_error_count(pw_job *j) { return j->errors.n; }

PW_API int64_t pw_job_error(pw_job *j, uint32_t i, uint8_t *buf, size_t cap) {
  pthread_mutex_lock(&j->errors.mu);
  if (i >= j->errors.n) {
    pthread_mutex_unlock(&j->errors.mu);
    return -1;
  }
  pw_errdetail *d = &j->errors.items[i];
  const char *op = pw_op_name(d->op);
  char msg[256];
  snprintf(msg, sizeof msg, "%s", strerror(d->err));
  size_t lo = strlen(op), lm = strlen(msg);
  size_t total = lo + 1 + lm + 1 + d->len;
  if (total <= cap) {
    memcpy(buf, op, lo + 1);
    memcpy(buf + lo + 1, msg, lm + 1);
    memcpy(buf + lo + lm + 2, d->path, d->len);
  }
  pthread_mutex_unlock(&j->errors.mu);
  return (int64_t)total;
}

PW_API int64_t pw_job_message(pw_job *j, uint8_t *buf, size_t cap, int32_t *err) {
  pthread_mutex_lock(&j->fatal_mu);
  size_t len = strlen(j->fatal_msg);
  if (len <= cap) memcpy(buf, j->fatal_msg, len);
  if (err) *err = j->fatal_err;
  pthread_mutex_unlock(&j->fatal_mu);
  return (int64_t)len;
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
    }
    free(j->workers);
  }
  if (j->vis->job_free) j->vis->job_free(j);
  free(j->root);
  pw_strset_free(&j->excludes);
  if (j->opts) pw_errlog_fini(&j->errors);
  pw_queue_fini(&j->queue);
  pw_opts_free(j->opts);
  pthread_mutex_destroy(&j->fatal_mu);
  pthread_mutex_destroy(&j->wait_mu);
  pthread_mutex_destroy(&j->visited_mu);
  pthread_mutex_destroy(&j->cur_mu);
  free(j->visited);
  free(j);
}
