/* journal.c — see journal.h. */
#define _GNU_SOURCE
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "pwalk.h"
#include "sys.h"

char pw_type_char(mode_t m) {
  switch (m & S_IFMT) {
    case S_IFDIR: return 'd';
    case S_IFREG: return 'f';
    case S_IFLNK: return 'l';
    case S_IFIFO: return 'p';
    case S_IFSOCK: return 's';
    case S_IFCHR: return 'c';
    case S_IFBLK: return 'b';
    default: return '?';
  }
}

/* The journal's exact escape: everything outside 0x21..0x7e, and '\', as \xHH. */
static size_t escape(char *out, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch <= 0x20 || ch >= 0x7f || ch == '\\') {
      out[o++] = '\\';
      out[o++] = 'x';
      out[o++] = hex[ch >> 4];
      out[o++] = hex[ch & 15];
    } else {
      out[o++] = (char)ch;
    }
  }
  return o;
}

size_t pw_journal_line(char *out, const struct stat *st, const pw_change *c, const pw_btime *bt,
                       const char *rel, size_t rel_len) {
  size_t n = (size_t)sprintf(out, "%llu %llu %c %u %u %04o %u %u %04o ",
                             (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
                             pw_type_char(st->st_mode), c->ouid, c->ogid, c->omode, c->nuid,
                             c->ngid, c->nmode);
  if (bt && bt->known && bt->sec >= 0 && bt->nsec < 1000000000u)
    n += (size_t)sprintf(out + n, "%lld.%09u ", (long long)bt->sec, (unsigned)bt->nsec);
  else n += (size_t)sprintf(out + n, "- ");
  if (!rel) out[n++] = '.';
  else n += escape(out + n, rel, rel_len);
  out[n++] = '\n';
  return n;
}

int pw_journal_header(int fd, const char *kind, bool apply, const struct stat *root,
                      const char *real) {
  size_t rl = strlen(real);
  char *line = malloc(rl * 4 + 128);
  if (!line) return -ENOMEM;
  size_t n = (size_t)sprintf(line, "#pwalk-journal 2 %s %s %llu %llu ", kind,
                             apply ? "apply" : "dry-run", (unsigned long long)root->st_dev,
                             (unsigned long long)root->st_ino);
  n += escape(line + n, real, rl);
  line[n++] = '\n';
  int err = pw_journal_append(fd, line, n); /* whole or not at all, as entry lines */
  free(line);
  return err;
}

/* Appends are serialised so that a torn line is the last bytes of the file
   when it is cut back.  A line per changed entry, each made with several
   system calls anyway: never the hot path. */
static pthread_mutex_t append_mu = PTHREAD_MUTEX_INITIALIZER;

/* Lines reach the disk at least every sync_ns (PWALK_JOURNAL_SYNC_MS,
   default 1000; 0: after every line), not only at the end: a power loss
   (not a crash: the page cache survives that) could otherwise lose the
   lines of every change of a long run, whose changes the file system may
   well have written.  Each journal (several jobs in a process) keeps its
   own clock. */
static int64_t sync_ns = -1;
/* By descriptor number: the last sync of each journal (0: none yet), when
   its oldest line not synced yet was written (0: none), and the error of a
   sync its syncer made (told by the next append, and by the syncer's stop) */
static int64_t *sync_last, *dirty_at;
static int *sync_err;
static size_t sync_cap;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void read_sync_ns(void) {
  if (sync_ns >= 0) return;
  const char *e = getenv("PWALK_JOURNAL_SYNC_MS");
  char *end;
  long ms = e && *e ? strtol(e, &end, 10) : -1;
  if (ms > 86400000L) ms = 86400000L; /* a day at most (and no overflow below) */
  sync_ns = e && *e && !*end && ms >= 0 ? (int64_t)ms * 1000000 : 1000000000;
}

/* Under append_mu: room for fd in the arrays above; false: none. */
static bool sync_room(int fd) {
  if ((size_t)fd < sync_cap) return true;
  size_t cap = (size_t)fd + 64;
  int64_t *t = realloc(sync_last, cap * sizeof *t);
  if (!t) return false;
  sync_last = t;
  int64_t *d = realloc(dirty_at, cap * sizeof *d);
  if (!d) return false;
  dirty_at = d;
  int *er = realloc(sync_err, cap * sizeof *er);
  if (!er) return false;
  sync_err = er;
  memset(sync_last + sync_cap, 0, (cap - sync_cap) * sizeof *sync_last);
  memset(dirty_at + sync_cap, 0, (cap - sync_cap) * sizeof *dirty_at);
  memset(sync_err + sync_cap, 0, (cap - sync_cap) * sizeof *sync_err);
  sync_cap = cap;
  return true;
}

/* Under append_mu, after a line was written to fd: whether fd's lines are
   due for a sync (sync_ns since its last one; the first line of an fd
   starts its clock), taking the time as that sync's.  Lines not due are
   left to the next line, or to the journal's syncer (pw_journal_syncer)
   when no line comes in time. */
static bool sync_due(int fd) {
  read_sync_ns();
  if (fd < 0) return false;
  if (!sync_room(fd)) return true; /* no room to keep time: sync now */
  int64_t t = now_ns();
  bool due;
  if (!sync_last[fd]) {
    sync_last[fd] = t;
    due = sync_ns == 0;
  } else {
    due = t - sync_last[fd] >= sync_ns;
    if (due) sync_last[fd] = t;
  }
  if (due) dirty_at[fd] = 0; /* the sync takes every line written before it */
  else if (!dirty_at[fd]) dirty_at[fd] = t;
  return due;
}

static int datasync(int fd) {
#ifdef __APPLE__
  int e = fsync(fd); /* no fdatasync in macOS's headers */
#else
  int e = fdatasync(fd);
#endif
  return e && errno != EINVAL && errno != EROFS ? errno : 0;
}

/* Write all n bytes of line, as far as they go: the bytes written; *err
   the errno that stopped it (0: all written).  A short write (a disk
   filling up, RLIMIT_FSIZE reached, a quota) is followed by a write of the
   rest, which says why: ENOSPC, EFBIG, EDQUOT... (or writes it: a write cut
   short by a signal). */
static size_t write_line(int fd, const char *line, size_t n, int *err) {
  size_t done = 0;
  *err = 0;
  while (done < n) {
    ssize_t w = write(fd, line + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      *err = w < 0 ? errno : ENOSPC; /* 0: no room, and no reason given */
      break;
    }
    done += (size_t)w;
  }
  return done;
}

int pw_journal_append(int fd, const char *line, size_t n) {
  pthread_mutex_lock(&append_mu);
  /* A write at RLIMIT_FSIZE raises SIGXFSZ, which kills the process (the
     run's other changes half done, nothing said): blocked in this thread
     while the line is written, and dropped if raised, so that the write
     fails with EFBIG instead, said as the journal's error. */
  pw_xfsz_mask xfsz;
  pw_xfsz_block(&xfsz);
  int err;
  size_t wn = write_line(fd, line, n, &err);
  pw_xfsz_restore(&xfsz);
  if (wn > 0 && err) {
    /* A torn line: cut the file back to where it began (O_APPEND: the end). */
    off_t end = lseek(fd, 0, SEEK_END);
    if (end >= (off_t)wn && ftruncate(fd, end - (off_t)wn)) err = errno;
  }
  bool due = !err && sync_due(fd);
  /* a sync the syncer made failed (EIO): the lines may not be on the disk,
     and the file's next sync may not say so again */
  if (!err && fd >= 0 && (size_t)fd < sync_cap && sync_err[fd]) {
    err = sync_err[fd];
    sync_err[fd] = 0;
  }
  pthread_mutex_unlock(&append_mu);
  /* the disk's wait outside the lock: other workers go on appending */
  if (due) {
    int e = datasync(fd);
    if (e && !err) err = e;
  }
  return -err;
}

/* How often the syncer looks: a quarter of the interval, 1 ms to 250 ms. */
static int64_t syncer_step(void) {
  int64_t step = sync_ns / 4;
  return step < 1000000 ? 1000000 : step > 250000000 ? 250000000 : step;
}

static void *syncer_main(void *arg) {
  pw_journal_syncer *s = arg;
  pw_thread_name("pwalk-journal");
  const int fd = s->fd;
  const int64_t step = syncer_step();
  pthread_mutex_lock(&s->mu);
  while (!s->stop) {
    struct timespec until;
    pw_deadline(&until, step);
    int e = pthread_cond_timedwait(&s->cv, &s->mu, &until);
    if (s->stop) break;
    if (e != ETIMEDOUT) continue;
    pthread_mutex_unlock(&s->mu);
    /* lines written sync_ns ago or more and not synced since: no line came
       after them to sync them (a burst of changes, then a quiet walk) */
    pthread_mutex_lock(&append_mu);
    int64_t t = now_ns();
    bool due = (size_t)fd < sync_cap && dirty_at[fd] && t - dirty_at[fd] >= sync_ns;
    if (due) {
      dirty_at[fd] = 0;
      sync_last[fd] = t;
    }
    pthread_mutex_unlock(&append_mu);
    int err = due ? datasync(fd) : 0;
    if (err) {
      pthread_mutex_lock(&append_mu);
      if ((size_t)fd < sync_cap && !sync_err[fd]) sync_err[fd] = err;
      pthread_mutex_unlock(&append_mu);
    }
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

int pw_journal_syncer_start(pw_journal_syncer *s, int fd) {
  s->running = false;
  s->stop = false;
  s->fd = fd;
  pthread_mutex_lock(&append_mu);
  read_sync_ns();
  bool room = fd >= 0 && sync_room(fd);
  if (room) sync_err[fd] = 0;
  pthread_mutex_unlock(&append_mu);
  /* every line synced at once (0), or no room to keep time (each line is
     synced then): nothing to watch */
  if (!room || sync_ns == 0) return 0;
  if (pthread_mutex_init(&s->mu, NULL)) return -ENOMEM;
  if (pw_cond_init(&s->cv)) {
    pthread_mutex_destroy(&s->mu);
    return -ENOMEM;
  }
  /* no signal is taken on this thread: the process's own (Deno's) threads
     take them */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int e = pw_thread_start(&s->thread, &attr, syncer_main, s, "pwalk-journal");
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e) {
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    return -e;
  }
  s->running = true;
  return 0;
}

int pw_journal_syncer_stop(pw_journal_syncer *s) {
  if (!s->running) return 0;
  pthread_mutex_lock(&s->mu);
  s->stop = true;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->thread, NULL);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  s->running = false;
  /* told once: an append since took it from sync_err, or it is told here */
  pthread_mutex_lock(&append_mu);
  int err = (size_t)s->fd < sync_cap ? sync_err[s->fd] : 0;
  if ((size_t)s->fd < sync_cap) {
    sync_err[s->fd] = 0;
    dirty_at[s->fd] = 0; /* the caller's close fsyncs the file */
  }
  pthread_mutex_unlock(&append_mu);
  return -err;
}

/* open(2) of the caller's path bytes (len, no NUL among them) with
   flags: the descriptor, or -errno. */
static int32_t open_bytes(const uint8_t *path, size_t len, int flags) {
  if (!path || !len || memchr(path, 0, len)) return -EINVAL;
  char *p = malloc(len + 1);
  if (!p) return -ENOMEM;
  memcpy(p, path, len);
  p[len] = 0;
  int fd = open(p, flags);
  int e = errno;
  free(p);
  return fd < 0 ? -e : fd;
}

PW_API int32_t pw_fd_open(const uint8_t *path, size_t len) {
  /* never created: every caller opens a file it made or checked (a
     FIFO removed meanwhile is not replaced by a new file of root's) */
  return open_bytes(path, len, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
}

PW_API int32_t pw_fd_open_direct(const uint8_t *path, size_t len) {
  /* O_NONBLOCK: a FIFO or pipe whose reader has left is ENXIO, not a wait
     no signal ends; then blocking again, as the shell's > leaves it (the
     errors log reopens a FIFO non-blocking itself) */
  int fd = open_bytes(path, len, O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return fd;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

/* A journal whose last line has no newline (a run killed mid-write, or a
   cut-back that failed): that line's change was never made (a line is
   written whole before its change), so it is cut off, lest the next
   header be glued to it and the whole file become unreadable.  Returns 0
   (nothing to cut), the new size + 1, or -errno. */
static int64_t cut_torn_tail(int fd, off_t size) {
  if (size <= 0) return 0;
  char buf[64 * 1024];
  off_t end = size;
  bool last = true;
  while (end > 0) {
    off_t start = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
    ssize_t n = pread(fd, buf, (size_t)(end - start), start);
    if (n != (ssize_t)(end - start)) return n < 0 ? -errno : -EIO;
    for (ssize_t i = n - 1; i >= 0; i--) {
      if (buf[i] == '\n') {
        if (last && i == n - 1) return 0; /* ends with its newline */
        off_t keep = start + i + 1;
        return ftruncate(fd, keep) ? -errno : (int64_t)keep + 1;
      }
      last = false;
    }
    end = start;
  }
  /* no newline at all: a torn header, no entry after it */
  return ftruncate(fd, 0) ? -errno : 1;
}

/* fsync the folder that holds path (best effort: a folder that cannot be
   opened or synced leaves the name to the file system's own writeback). */
static void sync_parent(char *path) {
  char *slash = strrchr(path, '/');
  const char *dir = ".";
  if (slash) {
    *slash = 0;
    dir = slash == path ? "/" : path;
  }
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (slash) *slash = '/';
  if (dfd < 0) return;
  (void)fsync(dfd);
  close(dfd);
}

/* Either version's header: a run of version 2 appends to one of version 1. */
#define JOURNAL_MAGIC "#pwalk-journal 2 "

/* Whether the file fd starts with a journal header (of version 1 or 2). */
static bool starts_as_journal(int fd) {
  char head[sizeof JOURNAL_MAGIC - 1];
  ssize_t n = pread(fd, head, sizeof head, 0);
  return n == (ssize_t)sizeof head && memcmp(head, JOURNAL_MAGIC, sizeof head - 2) == 0 &&
         (head[sizeof head - 2] == '1' || head[sizeof head - 2] == '2') &&
         head[sizeof head - 1] == ' ';
}

PW_API int32_t pw_journal_open(const uint8_t *path, size_t len, int32_t flags, int64_t *info) {
  if (!path || !len || memchr(path, 0, len) || !info) return -EINVAL;
  char *p = malloc(len + 1);
  if (!p) return -ENOMEM;
  memcpy(p, path, len);
  p[len] = 0;
  /* O_NOFOLLOW: never through a link; O_NONBLOCK: a FIFO cannot hang us
     (and is refused by the caller: not a regular file); O_NOCTTY: a
     terminal named is no controlling terminal. */
  const bool reading = flags & PW_JOURNAL_READ;
  const int base = (reading ? O_RDONLY : O_RDWR | O_APPEND) | O_NOFOLLOW | O_NONBLOCK |
                   O_NOCTTY | O_CLOEXEC;
  bool made = !reading;
  int fd = reading ? -1 : open(p, base | O_CREAT | O_EXCL, 0600);
  if (reading || (fd < 0 && errno == EEXIST && !(flags & PW_JOURNAL_NEW))) {
    made = false;
    fd = open(p, base);
  }
  int e = errno;
  /* Made now: locked at once, before anything else (the sync below takes
     milliseconds), so that a run opening it meanwhile, before its header is
     written, finds it in use (below), never an empty file that is no
     journal.  Waited for: such a run only tries the lock, for a moment (a
     file system without locks, ENOLCK or EOPNOTSUPP: used unlocked). */
  if (fd >= 0 && made) {
    while (flock(fd, LOCK_EX) && errno == EINTR) {
    }
  }
  /* A journal made now: its name reaches the disk too (its folder synced),
     lest a power loss keep the synced lines of a file no folder names. */
  if (fd >= 0 && made) sync_parent(p);
  free(p);
  if (fd < 0) return -e;
  struct stat st;
  if (fstat(fd, &st)) {
    e = errno;
    close(fd);
    return -e;
  }
  char head[sizeof JOURNAL_MAGIC - 1];
  /* Made now, or starting with a journal header.  An existing empty file
     is no journal (an empty /etc/motd, a lock file, a mktemp name): the
     caller refuses it, as README says. */
  bool journal = made || (S_ISREG(st.st_mode) && starts_as_journal(fd));
  /* Locked only when the caller will trust it (its owner's, writable by
     nobody else): the others are refused as they are, not as "in use". */
  bool trusted = S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
                 !(st.st_mode & (S_IWGRP | S_IWOTH));
  /* Shorter than a header: a run that made it now may not have written its
     header yet.  It locks it at once (above), so its lock says so: "in use",
     not an empty file that is no journal.  Between its open and its lock
     (a thread of a loaded machine can wait there for milliseconds) it is
     not locked yet: looked at again for a second before it is taken for an
     empty file (one a user named: refused a second later). */
  for (int i = 0; !journal && trusted && st.st_size < (off_t)sizeof head; i++) {
    if (flock(fd, LOCK_SH | LOCK_NB) && (errno == EWOULDBLOCK || errno == EINTR)) {
      close(fd);
      return -EWOULDBLOCK;
    }
    (void)flock(fd, LOCK_UN);
    if (i == 100) break;
    struct timespec ten_ms = {0, 10 * 1000 * 1000};
    nanosleep(&ten_ms, NULL);
    if (fstat(fd, &st)) {
      e = errno;
      close(fd);
      return -e;
    }
    if (st.st_size >= (off_t)sizeof head) journal = starts_as_journal(fd); /* written meanwhile */
  }
  if (journal && trusted) {
    /* One run appends at a time: two at once would interleave their lines
       under each other's headers, and a cut-back could take the other's
       line.  Undo reads one no run is appending to (a shared lock: -EWOULDBLOCK
       while a run holds it).  The lock lasts while fd is open.  A file system
       without locks (ENOLCK, EOPNOTSUPP...) is used unlocked, as before. */
    if (!made && flock(fd, (reading ? LOCK_SH : LOCK_EX) | LOCK_NB) &&
        (errno == EWOULDBLOCK || errno == EINTR)) {
      close(fd);
      return -EWOULDBLOCK;
    }
    /* its size now that no other run appends (one may have ended between
       the open and the lock) */
    if (fstat(fd, &st)) {
      e = errno;
      close(fd);
      return -e;
    }
  }
  info[0] = (int64_t)st.st_dev;
  info[1] = (int64_t)st.st_ino;
  info[2] = (int64_t)st.st_mode;
  info[3] = (int64_t)st.st_uid;
  info[4] = (int64_t)st.st_size;
  info[5] = journal;
  info[6] = made;
  return fd;
}

PW_API int64_t pw_journal_cut(int32_t fd) {
  struct stat st;
  if (fstat(fd, &st)) return -errno;
  if (!S_ISREG(st.st_mode)) return -EINVAL;
  int64_t t = cut_torn_tail(fd, st.st_size);
  return t < 0 ? t : t > 0 ? t - 1 : (int64_t)st.st_size;
}

PW_API int64_t pw_fd_read(int32_t fd, uint8_t *buf, size_t len, uint64_t offset) {
  if (!buf && len) return -EINVAL;
  for (;;) {
    ssize_t n = pread(fd, buf, len, (off_t)offset);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}

PW_API int32_t pw_fd_close(int32_t fd) {
  int rc = 0;
  /* EBADF: an O_PATH fd (pw_restore_root), nothing to flush */
  if (fsync(fd) && errno != EINVAL && errno != EROFS && errno != EBADF) rc = -errno;
  if (close(fd) && !rc) rc = -errno;
  return rc;
}
