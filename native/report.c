/*
 * report.c — the report visitor: pwalk CSV rows into the sink.
 *
 * Each worker formats rows into its own 256 KiB buffer and hands the full
 * buffer to the sink (one lock, or one zstd frame or gzip member, per
 * buffer, never per row).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
  *pw_worker_state(w) = r;
  return 0;
}

/* Hand n bytes to the sink; a failure ends the job. */
static void put(pw_job *j, const char *buf, size_t n) {
  pw_sink *s = pw_job_ctx(j);
  int e = pw_sink_write(s, buf, n);
  /* -ECANCELED: cancelled while a FIFO waited for its reader */
  if (e && e != -ECANCELED)
    pw_job_fail(j, -e, "cannot write %s: %s", pw_sink_name(s), strerror(-e));
  pw_job_set_out_bytes(j, pw_sink_bytes(s));
}

static void flush(pw_worker *w, report_worker *r) {
  if (!r->used) return;
  put(pw_worker_job(w), r->buf, r->used);
  r->used = 0;
}

static void rw_entry(pw_worker *w, const pw_entry *e) {
  report_worker *r = *pw_worker_state(w);
  size_t bound = pw_csv_bound(e->len);
  bool bad;
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

static void rw_end(pw_worker *w) {
  report_worker *r = *pw_worker_state(w);
  if (r && !pw_job_stopping(pw_worker_job(w))) flush(w, r);
}

static void rw_free(pw_worker *w) {
  report_worker *r = *pw_worker_state(w);
  if (!r) return;
  free(r->buf);
  pw_csv_prefix_free(&r->pfx);
  free(r);
  *pw_worker_state(w) = NULL;
}

/* Open the output (with the header first) before any worker starts. */
static int report_init(pw_job *j, void *arg) {
  (void)arg;
  if (pw_job_opts(j)->hold) { /* nothing would answer pw_walk_descend: it would hang */
    pw_job_fail(j, EINVAL, "PW_OPT_HOLD is for walk jobs");
    return -EINVAL;
  }
  pw_sink *s;
  char msg[512];
  bool header = pw_job_opts(j)->header;
  int e = pw_sink_open(&s, pw_job_opts(j), pw_job_threads(j), PW_REPORT_CHUNK, PW_CSV_HEADER,
                       header ? sizeof PW_CSV_HEADER - 1 : 0, msg, sizeof msg);
  if (e) {
    pw_job_fail(j, -e, "%s", msg);
    return e;
  }
  pw_job_set_ctx(j, s);
  pw_job_set_out_bytes(j, pw_sink_bytes(s));
  /* The output inside the tree is not a row of it: neither the temporary
     file nor the file it replaces. */
  struct stat own[2];
  for (int i = 0, n = pw_sink_own_files(s, own); i < n; i++) pw_job_skip_file(j, &own[i]);
  return 0;
}

static void report_cancel(pw_job *j) {
  pw_sink *s = pw_job_ctx(j);
  if (s) pw_sink_cancel(s);
}

static void report_end(pw_job *j, int status) {
  pw_sink *s = pw_job_ctx(j);
  if (!s) return;
  char msg[512];
  int e = pw_sink_finish(s, status == PW_OK, msg, sizeof msg);
  if (e && status == PW_OK) pw_job_fail(j, -e, "%s", msg);
  pw_job_set_out_bytes(j, pw_sink_bytes(s));
}

static void report_free(pw_job *j) {
  pw_sink_free(pw_job_ctx(j));
  pw_job_set_ctx(j, NULL);
}

static const pw_visitor report_visitor = {
    .job_init = report_init,
    .worker_start = rw_start,
    .entry = rw_entry,
    .worker_end = rw_end,
    .worker_free = rw_free,
    .cancel = report_cancel,
    .job_end = report_end,
    .job_free = report_free,
};

PW_API pw_job *pw_report_start(const pw_opts *o) { return pw_job_start(o, &report_visitor, NULL); }
