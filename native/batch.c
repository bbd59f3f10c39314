/* batch.c — see batch.h. */
#include "batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

typedef struct pw_batch {
  struct pw_batch *next;
  uint8_t *rec, *str, *raw;
  size_t rec_cap, str_cap, raw_cap;
  uint32_t rec_len, str_len, raw_len, str_len16, nrec;
} pw_batch;

typedef int32_t (*pw_descend_fn)(const uint8_t *path, size_t len);

typedef struct walk_ctx {
  pthread_mutex_t mu;
  pthread_cond_t cv_free, cv_ready;
  pw_batch *all;          /**< every batch (array) */
  int nall;
  pw_batch *free_list;
  pw_batch *ready_head, *ready_tail;
  pw_batch *held;         /**< the batch JavaScript is reading */
  bool done, cancelled;
  size_t batch_bytes;
  pw_descend_fn descend;  /**< JavaScript's skip test, or NULL */
} walk_ctx;

static bool batch_alloc(pw_batch *b, size_t bytes) {
  b->rec_cap = bytes;
  b->str_cap = bytes;
  b->raw_cap = 4096;
  b->rec = malloc(b->rec_cap);
  b->str = malloc(b->str_cap);
  b->raw = malloc(b->raw_cap);
  return b->rec && b->str && b->raw;
}

static void batch_reset(pw_batch *b) {
  b->rec_len = b->str_len = b->raw_len = b->str_len16 = b->nrec = 0;
  b->next = NULL;
}

static bool reserve(uint8_t **p, size_t *cap, size_t need) {
  if (need <= *cap) return true;
  size_t c = *cap * 2;
  while (c < need) c *= 2;
  uint8_t *n = realloc(*p, c);
  if (!n) return false;
  *p = n;
  *cap = c;
  return true;
}

/* UTF-16 length of valid UTF-8, or -1 when invalid.  ASCII runs go eight
   bytes at a time. */
static int64_t utf16_len(const uint8_t *s, size_t n) {
  int64_t units = 0;
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t v;
      memcpy(&v, s + i, 8);
      if (!(v & 0x8080808080808080ull)) {
        i += 8;
        units += 8;
        continue;
      }
    }
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      units++;
    } else if (c >= 0xC2 && c <= 0xDF) {
      if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80) return -1;
      i += 2;
      units++;
    } else if (c >= 0xE0 && c <= 0xEF) {
      if (i + 2 >= n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80) return -1;
      uint32_t cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
      if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
      i += 3;
      units++;
    } else if (c >= 0xF0 && c <= 0xF4) {
      if (i + 3 >= n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
          (s[i + 3] & 0xC0) != 0x80)
        return -1;
      uint32_t cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) |
                    (s[i + 3] & 0x3Fu);
      if (cp < 0x10000 || cp > 0x10FFFF) return -1;
      i += 4;
      units += 2;
    } else {
      return -1;
    }
  }
  return units;
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_f64(uint8_t *p, double v) { memcpy(p, &v, 8); }

#ifdef __APPLE__
#define PW_ATIM st_atimespec
#define PW_MTIM st_mtimespec
#define PW_CTIM st_ctimespec
#else
#define PW_ATIM st_atim
#define PW_MTIM st_mtim
#define PW_CTIM st_ctim
#endif

static double ms(struct timespec t) { return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6; }

/* ---- the pool ---------------------------------------------------------- */

static pw_batch *take_free(walk_ctx *c) {
  pthread_mutex_lock(&c->mu);
  while (!c->free_list && !c->cancelled) pthread_cond_wait(&c->cv_free, &c->mu);
  pw_batch *b = c->cancelled ? NULL : c->free_list;
  if (b) c->free_list = b->next;
  pthread_mutex_unlock(&c->mu);
  if (b) batch_reset(b);
  return b;
}

static void submit(walk_ctx *c, pw_batch *b) {
  pthread_mutex_lock(&c->mu);
  b->next = NULL;
  if (c->ready_tail) c->ready_tail->next = b;
  else c->ready_head = b;
  c->ready_tail = b;
  pthread_cond_signal(&c->cv_ready);
  pthread_mutex_unlock(&c->mu);
}

static void give_back(walk_ctx *c, pw_batch *b) {
  pthread_mutex_lock(&c->mu);
  b->next = c->free_list;
  c->free_list = b;
  pthread_cond_signal(&c->cv_free);
  pthread_mutex_unlock(&c->mu);
}

/* ---- the visitor ------------------------------------------------------- */

/* The worker's current batch with room for one record and a path of len
   bytes, or NULL when cancelled. */
static pw_batch *room(pw_worker *w, size_t len) {
  walk_ctx *c = w->job->vctx;
  pw_batch *b = w->vstate;
  if (b && (b->rec_len + PW_REC_SIZE > b->rec_cap || b->str_len + len > b->str_cap)) {
    if (b->nrec) {
      submit(c, b);
      b = NULL;
    }
  }
  if (!b) b = take_free(c);
  w->vstate = b;
  if (!b) return NULL;
  /* A path longer than a whole batch: grow this batch's buffers. */
  if (!reserve(&b->str, &b->str_cap, b->str_len + len) ||
      !reserve(&b->rec, &b->rec_cap, b->rec_len + PW_REC_SIZE)) {
    pw_job_fail(w->job, ENOMEM, "out of memory");
    return NULL;
  }
  return b;
}

/* Store path + base-name offset; returns the flags to add to the kind. */
static uint32_t put_path(pw_worker *w, pw_batch *b, uint8_t *r, const char *path, size_t len,
                         size_t name_off) {
  int64_t u16 = utf16_len((const uint8_t *)path, len);
  if (u16 < 0) {
    if (!reserve(&b->raw, &b->raw_cap, b->raw_len + len)) {
      pw_job_fail(w->job, ENOMEM, "out of memory");
      return PW_RECF_NOT_UTF8;
    }
    memcpy(b->raw + b->raw_len, path, len);
    put_u32(r + 4, b->raw_len);
    put_u32(r + 8, (uint32_t)len);
    put_u32(r + 12, (uint32_t)name_off);
    b->raw_len += (uint32_t)len;
    return PW_RECF_NOT_UTF8;
  }
  memcpy(b->str + b->str_len, path, len);
  b->str_len += (uint32_t)len;
  put_u32(r + 4, b->str_len16);
  put_u32(r + 8, (uint32_t)u16);
  int64_t prefix16 = (size_t)u16 == len ? (int64_t)name_off : utf16_len((const uint8_t *)path, name_off);
  put_u32(r + 12, (uint32_t)prefix16);
  b->str_len16 += (uint32_t)u16;
  return 0;
}

static void bw_entry(pw_worker *w, const pw_entry *e) {
  pw_batch *b = room(w, e->len);
  if (!b) return;
  uint8_t *r = b->rec + b->rec_len;
  const struct stat *st = e->st;
  uint32_t kind = e->subdir_ref ? PW_REC_SUBDIR : e->is_dir_row ? PW_REC_DIR : PW_REC_ENTRY;
  if (e->via_link) kind |= PW_RECF_VIA_LINK;
  kind |= put_path(w, b, r, e->path, e->len, e->name_off);
  put_u32(r, kind);
  int32_t depth = e->depth;
  memcpy(r + 16, &depth, 4);
  put_u32(r + 20, (uint32_t)st->st_mode);
  put_u32(r + 24, (uint32_t)st->st_uid);
  put_u32(r + 28, (uint32_t)st->st_gid);
  put_f64(r + 32, (double)st->st_nlink);
  put_f64(r + 40, (double)st->st_size);
  put_f64(r + 48, (double)st->st_ino);
  put_f64(r + 56, (double)st->st_dev);
  put_f64(r + 64, (double)st->st_blocks);
  put_f64(r + 72, (double)e->parent_ino);
  put_f64(r + 80, ms(st->PW_ATIM));
  put_f64(r + 88, ms(st->PW_MTIM));
  put_f64(r + 96, ms(st->PW_CTIM));
  put_f64(r + 104, (double)(e->is_dir_row ? e->fcount : -1));
  put_f64(r + 112, (double)(e->is_dir_row ? e->dirsum : 0));
  put_u32(r + 120, 0);
  put_u32(r + 124, 0);
  b->rec_len += PW_REC_SIZE;
  b->nrec++;
}

static void bw_error(pw_worker *w, int op, int err, const char *path, size_t len) {
  pw_batch *b = room(w, len);
  if (!b) return;
  uint8_t *r = b->rec + b->rec_len;
  memset(r, 0, PW_REC_SIZE);
  size_t off = len;
  while (off > 0 && path[off - 1] != '/') off--;
  uint32_t kind = PW_REC_ERROR | put_path(w, b, r, path, len, off);
  put_u32(r, kind);
  put_u32(r + 20, (uint32_t)op);
  put_u32(r + 24, (uint32_t)err);
  const char *msg = strerror(err);
  size_t ml = strlen(msg);
  if (reserve(&b->raw, &b->raw_cap, b->raw_len + ml)) {
    memcpy(b->raw + b->raw_len, msg, ml);
    put_u32(r + 28, (uint32_t)ml);
    put_f64(r + 32, (double)b->raw_len);
    b->raw_len += (uint32_t)ml;
  }
  b->rec_len += PW_REC_SIZE;
  b->nrec++;
}

static bool bw_descend(pw_worker *w, const char *path, size_t len, const struct stat *st) {
  (void)st;
  walk_ctx *c = w->job->vctx;
  if (!c->descend) return true;
  return c->descend((const uint8_t *)path, len) != 0;
}

static void bw_end(pw_worker *w) {
  walk_ctx *c = w->job->vctx;
  pw_batch *b = w->vstate;
  w->vstate = NULL;
  if (!b) return;
  if (b->nrec && !pw_queue_stopped(&w->job->queue)) submit(c, b);
  else give_back(c, b);
}

static void bw_workers_done(pw_job *j) {
  walk_ctx *c = j->vctx;
  pthread_mutex_lock(&c->mu);
  c->done = true;
  pthread_cond_broadcast(&c->cv_ready);
  pthread_mutex_unlock(&c->mu);
}

static void bw_cancel(pw_job *j) {
  walk_ctx *c = j->vctx;
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  c->cancelled = true;
  pthread_cond_broadcast(&c->cv_free);
  pthread_cond_broadcast(&c->cv_ready);
  pthread_mutex_unlock(&c->mu);
}

static void bw_job_free(pw_job *j) {
  walk_ctx *c = j->vctx;
  if (!c) return;
  for (int i = 0; i < c->nall; i++) {
    free(c->all[i].rec);
    free(c->all[i].str);
    free(c->all[i].raw);
  }
  free(c->all);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv_free);
  pthread_cond_destroy(&c->cv_ready);
  free(c);
  j->vctx = NULL;
}

static const pw_visitor walk_visitor = {
    .entry = bw_entry,
    .descend = bw_descend,
    .error = bw_error,
    .worker_end = bw_end,
    .workers_done = bw_workers_done,
    .cancel = bw_cancel,
    .job_free = bw_job_free,
    .subdir_refs = true,
};

PW_API pw_job *pw_walk_start(const pw_opts *o, pw_descend_fn descend) {
  pw_job *j = pw_job_create(o, &walk_visitor);
  if (!j) return NULL;
  walk_ctx *c = calloc(1, sizeof *c);
  if (!c) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return j;
  }
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv_free, NULL);
  pthread_cond_init(&c->cv_ready, NULL);
  c->descend = descend;
  c->batch_bytes = j->opts->batch_bytes ? j->opts->batch_bytes : 128 * 1024;
  j->vctx = c;
  if (j->fatal_msg[0]) {
    c->done = true;
    return j;
  }
  /* Every worker fills one batch; the rest wait for JavaScript. */
  int extra = j->opts->batches ? (int)j->opts->batches : 4;
  c->nall = j->nthreads + extra;
  c->all = calloc((size_t)c->nall, sizeof *c->all);
  if (!c->all) {
    c->nall = 0;
    c->done = true;
    pw_job_fail(j, ENOMEM, "out of memory");
    return j;
  }
  for (int i = 0; i < c->nall; i++) {
    if (!batch_alloc(&c->all[i], c->batch_bytes)) {
      c->done = true;
      pw_job_fail(j, ENOMEM, "out of memory");
      return j;
    }
    c->all[i].next = c->free_list;
    c->free_list = &c->all[i];
  }
  pw_job_launch(j);
  if (j->fatal_msg[0] && !j->started) c->done = true;
  return j;
}

PW_API int32_t pw_walk_next(pw_job *j, uint64_t *out) {
  walk_ctx *c = j->vctx;
  if (!c) return 0;
  pthread_mutex_lock(&c->mu);
  if (c->held) {
    c->held->next = c->free_list;
    c->free_list = c->held;
    c->held = NULL;
    pthread_cond_signal(&c->cv_free);
  }
  while (!c->ready_head && !c->done && !c->cancelled) pthread_cond_wait(&c->cv_ready, &c->mu);
  pw_batch *b = c->cancelled ? NULL : c->ready_head;
  if (b) {
    c->ready_head = b->next;
    if (!c->ready_head) c->ready_tail = NULL;
    c->held = b;
    out[0] = (uint64_t)(uintptr_t)b->rec;
    out[1] = b->rec_len;
    out[2] = (uint64_t)(uintptr_t)b->str;
    out[3] = b->str_len;
    out[4] = (uint64_t)(uintptr_t)b->raw;
    out[5] = b->raw_len;
    out[6] = b->nrec;
  }
  pthread_mutex_unlock(&c->mu);
  return b != NULL;
}
