/*
 * report.c — the report visitor: pwalk CSV rows into the sink.
 *
 * Each worker formats rows into its own 256 KiB buffer and hands the full
 * buffer to the sink (one lock, or one zstd frame, per buffer, never per row).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csvfmt.h"
#include "engine.h"
#include "sink.h"

#define PW_REPORT_CHUNK (256 * 1024)

typedef struct report_worker {
  char *buf;
  size_t used;
  pw_csv_prefix pfx; /**< the current listing's escaped folder path */
} report_worker;

static int rw_start(pw_worker *w) {
  report_worker *r = calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  r->buf = malloc(PW_REPORT_CHUNK);
  if (!r->buf) {
    free(r);
    return -ENOMEM;
  }
  w->vstate = r;
  return 0;
}

static void flush(pw_worker *w, report_worker *r) {
  if (!r->used) return;
  pw_sink *s = w->job->vctx;
  int e = pw_sink_write(s, r->buf, r->used);
  r->used = 0;
  if (e) pw_job_fail(w->job, -e, "cannot write the output: %s", strerror(-e));
  atomic_store_explicit(&w->job->out_bytes, pw_sink_bytes(s), memory_order_relaxed);
}

static void rw_entry(pw_worker *w, const pw_entry *e) {
  report_worker *r = w->vstate;
  size_t bound = pw_csv_bound(e->len);
  bool bad;
  if (r->used + bound > PW_REPORT_CHUNK) {
    flush(w, r);
    if (bound > PW_REPORT_CHUNK) { /* a path of more than ~64 KiB */
      char *big = malloc(bound);
      if (!big) {
        pw_job_fail(w->job, ENOMEM, "out of memory");
        return;
      }
      size_t n = pw_csv_row(big, e, NULL, &bad);
      int err = pw_sink_write(w->job->vctx, big, n);
      free(big);
      if (err) pw_job_fail(w->job, -err, "cannot write the output: %s", strerror(-err));
      goto notice;
    }
  }
  r->used += pw_csv_row(r->buf + r->used, e, &r->pfx, &bad);
notice:
  if (bad) {
    pw_count(w, PW_C_BADNAMES, 1);
    pw_errlog_badname(&w->job->errors, e->path, e->len);
  }
}

static void rw_end(pw_worker *w) {
  report_worker *r = w->vstate;
  if (r && !pw_queue_stopped(&w->job->queue)) flush(w, r);
}

static void rw_free(pw_worker *w) {
  report_worker *r = w->vstate;
  if (!r) return;
  free(r->buf);
  pw_csv_prefix_free(&r->pfx);
  free(r);
  w->vstate = NULL;
}

static void report_end(pw_job *j, int status) {
  pw_sink *s = j->vctx;
  if (!s) return;
  char msg[512];
  int e = pw_sink_finish(s, status == PW_OK, msg, sizeof msg);
  if (e && status == PW_OK) pw_job_fail(j, -e, "%s", msg);
  atomic_store(&j->out_bytes, pw_sink_bytes(s));
}

static void report_free(pw_job *j) {
  pw_sink_free(j->vctx);
  j->vctx = NULL;
}

static const pw_visitor report_visitor = {
    .worker_start = rw_start,
    .entry = rw_entry,
    .worker_end = rw_end,
    .worker_free = rw_free,
    .job_end = report_end,
    .job_free = report_free,
};

PW_API pw_job *pw_report_start(const pw_opts *o) {
  pw_job *j = pw_job_create(o, &report_visitor);
  if (!j || j->fatal_msg[0]) return j;
  pw_sink *s;
  char msg[512];
  int e = pw_sink_open(&s, j->opts, j->nthreads, PW_REPORT_CHUNK, msg, sizeof msg);
  if (e) {
    pw_job_fail(j, -e, "%s", msg);
    return j;
  }
  j->vctx = s;
  if (j->opts->header) {
    e = pw_sink_write(s, PW_CSV_HEADER, sizeof PW_CSV_HEADER - 1);
    if (e) {
      pw_job_fail(j, -e, "cannot write the output: %s", strerror(-e));
      return j;
    }
  }
  pw_job_launch(j);
  return j;
}
