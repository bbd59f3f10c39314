/*
 * pwdrive.c — a small C driver of libpwalk's public API (pwalk.h), used by
 * the sanitizer build in CI (tests/native.sh) and by the cross-architecture
 * check under qemu.  It is not the product's CLI (that is cli.ts).
 *
 *   pwdrive [-t THREADS] [-z LEVEL | -g LEVEL | -p LEVEL] [-H] [-n] [-d DEPTH] [-x] [-c CANCEL_MS]
 *           [-e EXCLUDE]... [-f FRONTIER]... [-E ERRORS_CSV] [-w] [-F] [-S|-D] [-b BATCH_BYTES] [-K]
 *           ROOT [OUTPUT]
 *
 * Writes the report to OUTPUT, or to stdout (zstd with -z, gzip with -g,
 * typed Parquet with zstd pages with -p);
 * errors stream to stderr; a summary line "entries=N dirs=N bytes=N
 * errors=N shared=N" goes to stderr at the end (shared: parts of large
 * folders handed to idle workers).
 * -w runs a walk job instead (batches consumed and records counted (a run of N
 * names as N), "records=N" on
 * stdout), -F follows symlinks in it, -S walks as walkDirs does (names
 * only, a record per subfolder too), -D also holds each folder's
 * subfolders until its row is answered (walkDirs top-down).  -R runs a repair instead (a dry run;
 * -A applies it, with the journal written to OUTPUT), -C FROM:UID:GID
 * pwalk's chown mode; change lines go to stdout.  -E appends every error
 * as a CSV row to ERRORS_CSV (PW_OPT_ERRORS_CSV_FD).  -f "DEV INO PARENT_INO
 * DEPTH PATH" walks that folder instead of ROOT (a shard's frontier).
 * -K cancels the job when the process gets SIGUSR1 (a thread waits for it),
 * at any time, even while pw_job_wait ends the job (as JavaScript's abort
 * may come while its pw_job_wait runs).
 * Every run also hands the library NULL with length 0 (an empty string,
 * an empty buffer), as Deno passes an empty Uint8Array: pw_opts_set_str,
 * pw_job_current, pw_job_message; status 4 if one is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../pwalk.h"

/* An allocation failed (tests/native.sh makes each fail in turn): said so,
   as out of memory, never left as a wrong run with an option missing. */
static void out_of_memory(void) {
  fprintf(stderr, "pwdrive: out of memory\n");
  exit(1);
}

/* pw_opts_set_str with argument `s`: its copy failing is out of memory. */
static int32_t set_str(pw_opts *o, int32_t key, const char *s) {
  int32_t r = pw_opts_set_str(o, key, (const uint8_t *)s, s ? strlen(s) : 0);
  if (r == -ENOMEM) out_of_memory();
  return r;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* -K: cancel the job at the first SIGUSR1 (blocked in every thread). */
static void *cancel_on_usr1(void *arg) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  int sig;
  if (sigwait(&set, &sig) == 0) pw_job_cancel(arg);
  return NULL;
}

int main(int argc, char **argv) {
  pw_opts *o = pw_opts_new();
  if (!o) out_of_memory();
  long cancel_ms = -1;
  int walk = 0, repair = 0, hold = 0, usr1 = 0;
  int i = 1;
  for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-H")) pw_opts_set_int(o, PW_OPT_HEADER, 1);
    else if (!strcmp(a, "-n")) pw_opts_set_int(o, PW_OPT_NOSNAP, 1);
    else if (!strcmp(a, "-x")) pw_opts_set_int(o, PW_OPT_ONE_FS, 1);
    else if (!strcmp(a, "-w")) walk = 1;
    else if (!strcmp(a, "-K")) usr1 = 1;
    else if (!strcmp(a, "-F")) pw_opts_set_int(o, PW_OPT_FOLLOW, 1);
    else if (!strcmp(a, "-D") || !strcmp(a, "-S")) {
      /* walkDirs' walk, names only: -S bottom-up, -D top-down (held) */
      hold = a[1] == 'D';
      if (hold) pw_opts_set_int(o, PW_OPT_HOLD, 1);
      pw_opts_set_int(o, PW_OPT_NO_STAT, 1);
      pw_opts_set_int(o, PW_OPT_LINK_DIRS, 1);
      pw_opts_set_int(o, PW_OPT_SUBDIRS, 1);
      pw_opts_set_int(o, PW_OPT_NAMES_ONLY, 1);
    }
    else if (!strcmp(a, "-R")) repair = 1;
    else if (!strcmp(a, "-A")) pw_opts_set_int(o, PW_OPT_APPLY, 1);
    else if (i + 1 < argc && !strcmp(a, "-C")) {
      long from, uid, gid;
      if (sscanf(argv[++i], "%ld:%ld:%ld", &from, &uid, &gid) != 3) return 2;
      repair = 1;
      pw_opts_set_int(o, PW_OPT_CHOWN_FROM, from);
      pw_opts_set_int(o, PW_OPT_CHOWN_UID, uid);
      pw_opts_set_int(o, PW_OPT_CHOWN_GID, gid);
    }
    else if (i + 1 < argc && !strcmp(a, "-t")) pw_opts_set_int(o, PW_OPT_THREADS, atoi(argv[++i]));
    else if (i + 1 < argc && (!strcmp(a, "-z") || !strcmp(a, "-g") || !strcmp(a, "-p"))) {
      pw_opts_set_int(o, PW_OPT_COMPRESS, a[1] == 'z'   ? PW_COMPRESS_ZSTD
                                          : a[1] == 'g' ? PW_COMPRESS_GZIP
                                                        : PW_COMPRESS_PARQUET);
      pw_opts_set_int(o, PW_OPT_LEVEL, atoi(argv[++i]));
    }
    else if (i + 1 < argc && !strcmp(a, "-b")) pw_opts_set_int(o, PW_OPT_BATCH_BYTES, atoi(argv[++i]));
    else if (i + 1 < argc && !strcmp(a, "-d")) pw_opts_set_int(o, PW_OPT_MAXDEPTH, atoi(argv[++i]));
    else if (i + 1 < argc && !strcmp(a, "-c")) cancel_ms = atol(argv[++i]);
    else if (i + 1 < argc && !strcmp(a, "-f")) { /* a frontier folder: walked instead */
      i++;
      set_str(o, PW_OPT_FRONTIER, argv[i]);
    } else if (i + 1 < argc && !strcmp(a, "-e")) {
      i++;
      set_str(o, PW_OPT_EXCLUDE, argv[i]);
    } else if (i + 1 < argc && !strcmp(a, "-E")) { /* every error as a CSV row to FILE */
      i++;
      int made = open(argv[i], O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (made >= 0) close(made); /* pw_fd_open opens existing files only */
      int fd = pw_fd_open((const uint8_t *)argv[i], strlen(argv[i]));
      if (fd < 0) return 1;
      pw_opts_set_int(o, PW_OPT_ERRORS_CSV_FD, fd);
    } else {
      fprintf(stderr, "pwdrive: unknown option %s\n", a);
      return 2;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "usage: pwdrive [options] ROOT [OUTPUT]\n");
    return 2;
  }
  /* An empty string as Deno passes an empty Uint8Array (a NULL pointer):
     accepted, with nothing read through the pointer (the root is set
     again below). */
  if (set_str(o, PW_OPT_ROOT, NULL)) return 4;
  set_str(o, PW_OPT_ROOT, argv[i]);
  int journal = -1;
  if (repair) {
    pw_opts_set_int(o, PW_OPT_CHANGES_FD, 1);
    if (i + 1 < argc) {
      int64_t info[7];
      journal = pw_journal_open((const uint8_t *)argv[i + 1], strlen(argv[i + 1]), 0, info);
      if (journal < 0 || !info[5]) return 1; /* not a journal: never appended to */
      /* appended to: its torn last line cut off first, as lib/journal_file.ts does */
      if (!info[6] && pw_journal_cut(journal) < 0) return 1;
      pw_opts_set_int(o, PW_OPT_JOURNAL_FD, journal);
    }
  } else if (i + 1 < argc) {
    set_str(o, PW_OPT_OUTPUT, argv[i + 1]);
  } else {
    pw_opts_set_int(o, PW_OPT_OUTPUT_FD, 1);
  }
  pw_opts_set_int(o, PW_OPT_ERROR_FD, 2);
  if (usr1) { /* blocked before the job's threads start: they inherit it */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
  }
  pw_job *j = walk ? pw_walk_start(o) : repair ? pw_repair_start(o) : pw_report_start(o);
  pw_opts_free(o);
  if (!j) out_of_memory(); /* NULL only when the job's own allocation fails */
  pthread_t canceller;
  if (usr1 && pthread_create(&canceller, NULL, cancel_on_usr1, j)) return 1;
  if (usr1) pthread_detach(canceller);
  if (walk) {
    uint64_t out[7], records = 0, batches = 0;
    while (pw_job_next(j, out)) {
      /* Touch every byte the way the decoder does. */
      volatile uint8_t sum = 0;
      for (uint64_t k = 0; k < out[1]; k++) sum ^= ((uint8_t *)(uintptr_t)out[0])[k];
      for (uint64_t k = 0; k < out[3]; k++) sum ^= ((uint8_t *)(uintptr_t)out[2])[k];
      if (cancel_ms >= 0 && ++batches == 2) pw_job_cancel(j);
      for (uint64_t k = 0; k < out[6]; k++) {
        const uint8_t *r = (const uint8_t *)(uintptr_t)out[0] + k * 144; /* channel.h PW_REC_SIZE */
        uint32_t kind, token, names;
        memcpy(&kind, r, 4);
        memcpy(&token, r + 120, 4);
        memcpy(&names, r + 124, 4);
        /* entries and subfolders of names-only walks come in runs */
        records += (kind & 15) == 0 || (kind & 15) == 2 ? names : 1;
        /* A held walk: answer every folder row, entering all its subfolders. */
        if (hold && (kind & 15) == 1 && token && pw_walk_descend(j, token, NULL, 0)) return 3;
      }
    }
    printf("records=%llu\n", (unsigned long long)records);
  } else if (cancel_ms >= 0) {
    sleep_ms(cancel_ms);
    pw_job_cancel(j);
  }
  int rc = pw_job_wait(j);
  uint64_t c[PW_C_COUNT];
  pw_job_progress(j, c);
  /* Lengths only, into no buffer (NULL, 0: as Deno passes an empty one). */
  if (pw_job_current(j, NULL, 0) < 0 || pw_job_message(j, NULL, 0, NULL) < 0) return 4;
  char msg[600];
  int32_t err = 0;
  int64_t n = pw_job_message(j, (uint8_t *)msg, sizeof msg - 1, &err);
  msg[n < (int64_t)sizeof msg ? n : 0] = 0;
  uint8_t detail[8192];
  for (uint32_t k = 0; k < pw_job_error_count(j); k++) {
    int64_t len = pw_job_error(j, k, detail, sizeof detail);
    if (len > 0 && len <= (int64_t)sizeof detail) {
      const char *op = (const char *)detail, *m = op + strlen(op) + 1;
      fprintf(stderr, "detail: %s %s %.*s\n", op, m, (int)(len - (int64_t)(m + strlen(m) + 1 - op)),
              m + strlen(m) + 1);
    }
  }
  fprintf(stderr, "status=%d entries=%llu dirs=%llu bytes=%llu errors=%llu shared=%llu%s%s\n", rc,
          (unsigned long long)c[PW_C_ENTRIES], (unsigned long long)c[PW_C_DIRS],
          (unsigned long long)c[PW_C_BYTES], (unsigned long long)c[PW_C_ERRORS],
          (unsigned long long)c[PW_C_SHARED], n ? " fatal=" : "", msg);
  pw_job_free(j);
  if (journal >= 0) pw_fd_close(journal);
  return rc == PW_OK ? 0 : rc == PW_CANCELLED ? 130 : 1;
}
