/*
 * walk.c — the walk visitor: every entry and error as a record in the
 * channel (channel.h), for lib/walk.ts's async generators.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "engine.h"
#include "errlog.h"
#include "sys.h"

typedef struct walk_ctx {
  pw_channel *ch;
  bool names_only;       /**< PW_OPT_NAMES_ONLY */
  bool no_stat;          /**< PW_OPT_NO_STAT: a folder's pw_dirsum is unknown (NaN) */
} walk_ctx;


/* The largest double below x (finite). */
static double below(double x) {
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  if (x > 0) b--;
  else if (x < 0) b++;
  else b = 0x8000000000000001ull; /* -0's neighbour below 0 */
  double r;
  memcpy(&r, &b, sizeof r);
  return r;
}

/* Milliseconds since the epoch, the fraction kept, never past the time
   itself: the nearest double can round up into the next millisecond, and
   second (1700000000.999999880 s to 1700000001000 ms, 2^31 - 1 + .999999999
   s past 2038's boundary), where floor(ms / 1000) would no longer be the
   stat's seconds that report prints.  Whole milliseconds are exact below
   2^53 (a tmpfs keeps any time: 2^43 s and more round up too); beyond,
   nothing finer than a millisecond is kept anyway. */
#define PW_WHOLE_MS_SECONDS 9007199254740LL /* 2^53 ms, in whole seconds */
static double ms(struct timespec t) {
  double v = (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
  if (t.tv_sec >= -PW_WHOLE_MS_SECONDS && t.tv_sec < PW_WHOLE_MS_SECONDS) {
    int64_t whole = (int64_t)t.tv_sec * 1000 + (int64_t)t.tv_nsec / 1000000;
    if (v >= (double)(whole + 1)) v = below((double)(whole + 1));
  }
  return v;
}

/* A record in the worker's batch, or NULL (cancelled, or the job failed). */
static uint8_t *record(pw_worker *w, walk_ctx *c, uint32_t kind, const char *path, size_t len,
                       size_t off) {
  int err;
  uint8_t *r = pw_channel_put(c->ch, (pw_batch **)pw_worker_state(w), kind, path, len, off, &err);
  if (!r && err) pw_job_fail(pw_worker_job(w), err, "out of memory");
  return r;
}

/* A worker starts: one more batch may be made, the one it fills. */
static int bw_worker_start(pw_worker *w) {
  walk_ctx *c = pw_job_ctx(pw_worker_job(w));
  pw_channel_add_writer(c->ch);
  return 0;
}

static void bw_entry(pw_worker *w, const pw_entry *e) {
  uint32_t kind = e->subdir_ref ? PW_REC_SUBDIR : e->is_dir_row ? PW_REC_DIR : PW_REC_ENTRY;
  if (e->via_link) kind |= PW_RECF_VIA_LINK;
  if (e->link_dir) kind |= PW_RECF_LINK_DIR;
  if (e->no_stat) kind |= PW_RECF_NO_STAT;
  walk_ctx *c = pw_job_ctx(pw_worker_job(w));
  const struct stat *st = e->st;
  if (c->names_only && !e->is_dir_row) {
    /* walkDirs wants names (the folder part is its folder row's), in runs */
    int err = pw_channel_put_name(c->ch, (pw_batch **)pw_worker_state(w), kind,
                                  e->path + e->name_off, e->len - e->name_off,
                                  (uint32_t)st->st_mode & S_IFMT, e->depth, e->hold, e->group);
    if (err == ENOMEM) pw_job_fail(pw_worker_job(w), err, "out of memory");
    return;
  }
  uint8_t *r = record(w, c, kind, e->path, e->len, e->name_off);
  if (!r) return;
  int32_t depth = e->depth;
  memcpy(r + 16, &depth, 4);
  pw_put_u32(r + 20, (uint32_t)st->st_mode);
  pw_put_u32(r + 24, (uint32_t)st->st_uid);
  pw_put_u32(r + 28, (uint32_t)st->st_gid);
  pw_put_f64(r + 32, (double)st->st_nlink);
  pw_put_f64(r + 40, (double)st->st_size);
  pw_put_f64(r + 48, (double)st->st_ino);
  pw_put_f64(r + 56, (double)st->st_dev);
  pw_put_f64(r + 64, (double)st->st_blocks);
  pw_put_f64(r + 72, (double)e->parent_ino);
  pw_put_f64(r + 80, ms(st->PW_ATIM));
  pw_put_f64(r + 88, ms(st->PW_MTIM));
  pw_put_f64(r + 96, ms(st->PW_CTIM));
  pw_put_f64(r + 104, (double)(e->is_dir_row ? e->fcount : -1));
  /* without a stat per entry its children's sizes are unknown: NaN, the
     root's too (stat'ed itself, as are folders under one_fs or followed
     links, but their listings are not); and NaN for every other entry, as
     walk() documents it: also one stat'ed all the same (a followed link, a
     name of unknown type), which would else be the one with a 0 */
  pw_put_f64(r + 112, c->no_stat ? NAN : !e->is_dir_row ? 0 : (double)e->dirsum);
  pw_put_u32(r + 120, e->hold);
  pw_put_u32(r + 124, 1);
  pw_put_f64(r + 128, (double)e->group);
  pw_put_f64(r + 136, (double)e->parent_group);
  /* A folder ended: what this worker wrote may go to JavaScript as it is
     if JavaScript waits (the next folder may be slow to read). */
  if (e->is_dir_row) pw_channel_offer(c->ch, (pw_batch **)pw_worker_state(w));
}

static void bw_error(pw_worker *w, int op, int err, const char *path, size_t len) {
  size_t off = len;
  while (off > 0 && path[off - 1] != '/') off--;
  uint8_t *r = record(w, pw_job_ctx(pw_worker_job(w)), PW_REC_ERROR, path, len, off);
  if (!r) return;
  memset(r + 16, 0, PW_REC_SIZE - 16);
  pw_put_u32(r + 20, (uint32_t)op);
  pw_put_u32(r + 24, (uint32_t)err);
  /* (a folder replaced since it was listed: errlog's words, as the CLI's lines say it) */
  const char *msg = pw_errno_text(op, err);
  uint32_t moff;
  size_t ml = strlen(msg);
  if (pw_channel_raw(*(pw_batch **)pw_worker_state(w), msg, ml, &moff) == 0) {
    pw_put_u32(r + 28, (uint32_t)ml);
    pw_put_f64(r + 32, (double)moff);
  }
}

static void bw_end(pw_worker *w) {
  walk_ctx *c = pw_job_ctx(pw_worker_job(w));
  pw_channel_release(c->ch, (pw_batch **)pw_worker_state(w), !pw_job_stopping(pw_worker_job(w)));
}

/* The worker waits for work: a held walk waits on the rows it holds back,
   hand them over; else JavaScript may take them as it is when it has
   nothing else for a while (channel.h). */
static void bw_idle(pw_worker *w) {
  pw_job *j = pw_worker_job(w);
  walk_ctx *c = pw_job_ctx(j);
  pw_batch **cur = (pw_batch **)pw_worker_state(w);
  if (pw_job_opts(j)->hold) pw_channel_release(c->ch, cur, true);
  else pw_channel_offer(c->ch, cur);
}

/* A shared folder's entries go to JavaScript before its row. */
static void bw_flush(pw_worker *w) {
  walk_ctx *c = pw_job_ctx(pw_worker_job(w));
  pw_channel_release(c->ch, (pw_batch **)pw_worker_state(w), true);
}

static void bw_workers_done(pw_job *j) {
  walk_ctx *c = pw_job_ctx(j);
  pw_channel_close(c->ch);
}

static void bw_cancel(pw_job *j) {
  walk_ctx *c = pw_job_ctx(j);
  if (c && c->ch) pw_channel_cancel(c->ch);
}

static int32_t bw_next(pw_job *j, uint64_t *out) {
  walk_ctx *c = pw_job_ctx(j);
  return c && c->ch ? pw_channel_next(c->ch, out) : 0;
}

static bool bw_held_back(pw_job *j) {
  walk_ctx *c = pw_job_ctx(j);
  return c && c->ch && pw_channel_held_back(c->ch);
}

static void bw_job_free(pw_job *j) {
  walk_ctx *c = pw_job_ctx(j);
  if (!c) return;
  pw_channel_free(c->ch);
  free(c);
  pw_job_set_ctx(j, NULL);
}

static int walk_init(pw_job *j, void *arg) {
  (void)arg;
  const struct pw_opts *o = pw_job_opts(j);
  walk_ctx *c = calloc(1, sizeof *c);
  if (!c) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return -ENOMEM;
  }
  pw_job_set_ctx(j, c);
  c->names_only = o->names_only;
  c->no_stat = o->no_stat;
  /* Every worker fills one batch (bw_worker_start); the rest wait for
     JavaScript. */
  int extra = o->batches ? (int)o->batches : 4;
  /* Names-only batches fill their path region first (runs of names, no
     path per entry): 32 KiB of names keeps each batch's string out of V8's
     large-object space (measured: 96 -> 62 MiB peak, same time). */
  size_t bytes = o->batch_bytes ? o->batch_bytes : o->names_only ? 32 * 1024 : 128 * 1024;
  c->ch = pw_channel_new(pw_job_threads(j) + extra, extra, bytes);
  if (!c->ch) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return -ENOMEM;
  }
  return 0;
}

static const pw_visitor walk_visitor = {
    .job_init = walk_init,
    .worker_start = bw_worker_start,
    .entry = bw_entry,
    .error = bw_error,
    .idle = bw_idle,
    .flush = bw_flush,
    .worker_end = bw_end,
    .workers_done = bw_workers_done,
    .cancel = bw_cancel,
    .next = bw_next,
    .held_back = bw_held_back,
    .job_free = bw_job_free,
    .share_listings = true,
    .keep_unstatted = true,
};

PW_API pw_job *pw_walk_start(const pw_opts *o) {
  return pw_job_start(o, &walk_visitor, NULL);
}
