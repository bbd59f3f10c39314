/*
 * report.c — the report visitor: pwalk CSV rows into the sink, or the same
 * rows as typed Parquet (parquet.h).
 *
 * Each worker formats rows into its own 256 KiB buffer and hands the full
 * buffer to the sink (one lock, or one zstd frame or gzip member, per
 * buffer, never per row); for Parquet it gathers a row group of its own
 * rows and appends it whole.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csvfmt.h"
#include "engine.h"
#include "opts.h"
#include "parquet.h"
#include "sink.h"

#define PW_REPORT_CHUNK (256 * 1024)

typedef struct report_ctx {
  pw_sink *sink;
  pw_pq *pq; /**< Parquet output, or NULL */
} report_ctx;

typedef struct report_worker {
  char *buf;
  size_t used;
  pw_csv_prefix pfx; /**< the current listing's escaped folder path */
  pw_pq_rows *rows;  /**< Parquet: this worker's rows not yet written */
} report_worker;

static int rw_start(pw_worker *w) {
  report_ctx *c = pw_job_ctx(pw_worker_job(w));
  report_worker *r = calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  if (c->pq) r->rows = pw_pq_rows_new(c->pq);
  else r->buf = malloc(PW_REPORT_CHUNK);
  if (!r->buf && !r->rows) {
    free(r);
    return -ENOMEM;
  }
  *pw_worker_state(w) = r;
  return 0;
}

/* A failed write ends the job (-ECANCELED: cancelled while a FIFO waited
   for its reader, or a pipe or FIFO for room). */
static void wrote(pw_job *j, int e) {
  report_ctx *c = pw_job_ctx(j);
  if (e == -ENOMEM) pw_job_fail(j, ENOMEM, "out of memory"); /* as every allocation says */
  else if (e && e != -ECANCELED)
    pw_job_fail(j, -e, "cannot write %s: %s", pw_sink_name(c->sink), strerror(-e));
  pw_job_set_out_bytes(j, pw_sink_bytes(c->sink));
}

/* Hand n bytes to the sink. */
static void put(pw_job *j, const char *buf, size_t n) {
  report_ctx *c = pw_job_ctx(j);
  pw_job_out_writing(j, 1);
  int e = pw_sink_write(c->sink, buf, n);
  pw_job_out_writing(j, -1);
  wrote(j, e);
}
static void flush(pw_worker *w, report_worker *r) {
  if (r->rows) {
    pw_job *j = pw_worker_job(w);
    report_ctx *c = pw_job_ctx(j);
    pw_job_out_writing(j, 1);
    int e = pw_pq_flush(c->pq, r->rows, c->sink);
    pw_job_out_writing(j, -1);
    wrote(j, e);
    return;
  }
  if (!r->used) return;
  put(pw_worker_job(w), r->buf, r->used);
  r->used = 0;
}

static void rw_entry(pw_worker *w, const pw_entry *e) {
  report_worker *r = *pw_worker_state(w);
  bool bad = false;
  /* PW_OPT_DEV_MAP: the row carries the mapped device number */
  const pw_opts *o = pw_job_opts(pw_worker_job(w));
  pw_entry mapped;
  struct stat mst;
  if (o->n_dev_map) {
    uint64_t dev = pw_opts_row_dev(o, (uint64_t)e->st->st_dev);
    if (dev != (uint64_t)e->st->st_dev) {
      mst = *e->st;
      mst.st_dev = (dev_t)dev;
      mapped = *e;
      mapped.st = &mst;
      e = &mapped;
    }
  }
  if (r->rows) {
    int full = pw_pq_add(r->rows, e, &bad);
    if (full == -ENOMEM) pw_job_fail(pw_worker_job(w), ENOMEM, "out of memory");
    else if (full == 1) flush(w, r);
    goto notice;
  }
  size_t bound = pw_csv_bound(e->len);
  if (r->used + bound > PW_REPORT_CHUNK) {
    flush(w, r);
    if (bound > PW_REPORT_CHUNK) { /* a path of more than ~64 KiB */
      char *big = malloc(bound);
      if (!big) {
        pw_job_fail(pw_worker_job(w), ENOMEM, "out of memory");
        return;
      }
      put(pw_worker_job(w), big, pw_csv_row(big, e, NULL, &bad));
      free(big);
      goto notice;
    }
  }
  r->used += pw_csv_row(r->buf + r->used, e, &r->pfx, &bad);
notice:
  if (bad) {
    pw_count(w, PW_C_BADNAMES, 1);
    pw_job_badname(pw_worker_job(w), e->path, e->len);
  }
}

/* A shared folder's rows before its row (CSV; Parquet's row groups keep no
   walk order, and a flush per share would make them tiny). */
static void rw_flush(pw_worker *w) {
  report_worker *r = *pw_worker_state(w);
  if (r && !r->rows && !pw_job_stopping(pw_worker_job(w))) flush(w, r);
}

static void rw_end(pw_worker *w) {
  report_worker *r = *pw_worker_state(w);
  if (r && !pw_job_stopping(pw_worker_job(w))) flush(w, r);
}

static void rw_free(pw_worker *w) {
  report_worker *r = *pw_worker_state(w);
  if (!r) return;
  free(r->buf);
  pw_pq_rows_free(r->rows);
  pw_csv_prefix_free(&r->pfx);
  free(r);
  *pw_worker_state(w) = NULL;
}

/* Open the output (with the header first) before any worker starts. */
static int report_init(pw_job *j, void *arg) {
  (void)arg;
  const struct pw_opts *o = pw_job_opts(j);
  if (o->hold) { /* nothing would answer pw_walk_descend: it would hang */
    pw_job_fail(j, EINVAL, "PW_OPT_HOLD is for walk jobs");
    return -EINVAL;
  }
  /* Walk-only options: a followed link's real path would break the rows'
     shared folder prefix (one listing, one folder part: entry.h), and rows
     without a stat or of base names are no pwalk rows. */
  if (o->follow || o->canonical || o->no_stat || o->link_dirs || o->subdirs || o->names_only) {
    pw_job_fail(j, EINVAL, "PW_OPT_FOLLOW, PW_OPT_CANONICAL, PW_OPT_NO_STAT, PW_OPT_LINK_DIRS, "
                           "PW_OPT_SUBDIRS and PW_OPT_NAMES_ONLY are for walk jobs");
    return -EINVAL;
  }
  report_ctx *c = calloc(1, sizeof *c);
  if (!c || (pw_job_opts(j)->compress == PW_COMPRESS_PARQUET && !(c->pq = pw_pq_new()))) {
    free(c);
    pw_job_fail(j, ENOMEM, "out of memory");
    return -ENOMEM;
  }
  pw_job_set_ctx(j, c);
  pw_sink *s;
  char msg[2 * PATH_MAX]; /* a path may be named in it more than once (resolve.c) */
  /* Parquet starts with its magic; the CSV with the header when asked. */
  const char *head = c->pq ? PW_PARQUET_MAGIC : PW_CSV_HEADER;
  size_t head_len = c->pq                      ? sizeof PW_PARQUET_MAGIC - 1
                    : pw_job_opts(j)->header ? sizeof PW_CSV_HEADER - 1
                                             : 0;
  int e = pw_sink_open(&s, pw_job_opts(j), pw_job_threads(j), PW_REPORT_CHUNK, head, head_len,
                       msg, sizeof msg);
  if (e) {
    pw_job_fail(j, -e, "%s", msg);
    return e;
  }
  c->sink = s;
  pw_job_set_out_bytes(j, pw_sink_bytes(s));
  /* The output inside the tree is not a row of it: neither the file being
     written (the temporary, or standard output redirected into the tree)
     nor the file it replaces (by its name: other names of that file are
     rows, as they stay). */
  struct stat out;
  if (pw_sink_file(s, &out)) pw_job_skip_file(j, &out);
  int dirfd;
  const char *replaced = pw_sink_replaced(s, &dirfd);
  if (replaced) pw_job_skip_at(j, dirfd, replaced);
  return 0;
}

static void report_cancel(pw_job *j) {
  report_ctx *c = pw_job_ctx(j);
  if (c && c->sink) pw_sink_cancel(c->sink);
}

static void report_end(pw_job *j, int status) {
  report_ctx *c = pw_job_ctx(j);
  if (!c || !c->sink) return;
  char msg[2 * PATH_MAX]; /* a path may be named in it more than once (resolve.c) */
  bool ok = status == PW_OK;
  /* -ECANCELED while ok: a cancel that came after the workers ended (the
     footer, the head of an empty report or the small chunks gathered were
     still to be written, perhaps waiting for a FIFO's reader or for room in
     a pipe).  The output is not committed then: the job ends cancelled,
     as a cancel a moment earlier would, not failed. */
  if (ok && c->pq) { /* the footer, after every worker's last row group */
    int e = pw_pq_finish(c->pq, c->sink);
    if (e == -ECANCELED) pw_job_end_cancelled(j);
    else if (e) pw_job_fail(j, -e, "cannot write %s: %s", pw_sink_name(c->sink), strerror(-e));
    if (e) ok = false;
  }
  int e = pw_sink_finish(c->sink, ok, msg, sizeof msg);
  if (e == -ECANCELED && ok) pw_job_end_cancelled(j);
  else if (e && ok) pw_job_fail(j, -e, "%s", msg);
  pw_job_set_out_bytes(j, pw_sink_bytes(c->sink));
}

static void report_free(pw_job *j) {
  report_ctx *c = pw_job_ctx(j);
  if (!c) return;
  pw_sink_free(c->sink);
  pw_pq_free(c->pq);
  free(c);
  pw_job_set_ctx(j, NULL);
}

static const pw_visitor report_visitor = {
    .job_init = report_init,
    .worker_start = rw_start,
    .entry = rw_entry,
    .flush = rw_flush,
    .worker_end = rw_end,
    .worker_free = rw_free,
    .cancel = report_cancel,
    .job_end = report_end,
    .job_free = report_free,
    .share_listings = true,
};

PW_API pw_job *pw_report_start(const pw_opts *o) { return pw_job_start(o, &report_visitor, NULL); }
