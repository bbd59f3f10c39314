/* sink.c — see sink.h. */
#define _GNU_SOURCE
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libdeflate.h"
#include "pwalk.h"
#include "resolve.h"
#include "sys.h"
#include "zstd.h"
#include "zstd_errors.h"

/* Default levels: the fastest of each kind (zstd 1 is about 13:1 on pwalk
   CSV; libdeflate's gzip level 1 about 6:1, see README). */
#ifndef O_PATH
#define O_PATH 0 /* macOS: the folder opened for reading */
#endif
#ifdef __APPLE__
#define fdatasync fsync /* not declared there */
#endif

#define PW_ZSTD_DEFAULT 1
#define PW_GZIP_DEFAULT 1
#define PW_FIFO_POLL_NS (20 * 1000 * 1000)
/* A compressed chunk smaller than this is gathered with others into one
   frame (member) instead of being one of its own (see pw_sink_write). */
#define PW_SINK_SMALL (64 * 1024)

typedef struct pw_cslot {
  ZSTD_CCtx *zstd;
  struct libdeflate_compressor *gzip;
  char *out;
  size_t cap;
  struct pw_cslot *next;
} pw_cslot;

struct pw_sink {
  int fd;             /**< -1 while a FIFO waits for its reader */
  bool own_fd;
  char *name;         /**< the output's name as given, for messages */
  char *final_name;   /**< the name in dir_fd renamed onto (a link's target's); NULL unless
                           replacing */
  char *tmp_name;     /**< the temporary file's name in dir_fd; NULL: none */
  int dir_fd;         /**< the folder of tmp_name and final_name (-1: none): renamed and
                           removed there, wherever it has moved since */
  char *fifo_name;    /**< a FIFO in dir_fd opened at the first write (no reader yet) */
  int fifo_nofollow;  /**< O_NOFOLLOW, or 0 for a link of /proc followed (resolve.h) */
  bool has_old;       /**< final_name names a regular file being replaced */
  dev_t tmp_dev;      /**< the temporary file's device and inode: after the rename, */
  ino_t tmp_ino;      /**< final_name must be that file (see pw_sink_finish) */
  bool taken;         /**< another file was at final_name after the rename */
  int compress;       /**< a pw_compress */
  int level;
  pthread_mutex_t write_mu;
  pthread_mutex_t pool_mu;
  pthread_cond_t pool_cv;
  pw_cslot *slots;    /**< all compression contexts */
  pw_cslot *free_slots;
  int nslots;
  pw_cslot small;     /**< the context for gathered small chunks (under write_mu) */
  char *small_buf;    /**< small chunks gathered, in the order written; NULL if none are */
  size_t small_len, small_cap;
  char *head;         /**< (compressed) head, written first */
  size_t head_len;
  _Atomic uint64_t bytes;
  _Atomic bool cancelled;
  int write_err;      /**< first write error (sticky) */
};

/* ---- opening the output by its kind ---------------------------------------- */

/* Open a FIFO for writing without blocking: -ENXIO while no reader has it
   open.  With wait, poll until one has (or the sink is cancelled).  It
   stays non-blocking: a reader that stops reading leaves sink_write
   polling, where pw_sink_cancel reaches it. */
static int open_fifo(pw_sink *s, bool wait) {
  for (;;) {
    int fd = openat(s->dir_fd, s->fifo_name,
                    O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | s->fifo_nofollow);
    if (fd >= 0) {
      struct stat st;
      if (fstat(fd, &st) || !S_ISFIFO(st.st_mode)) {
        close(fd);
        return -ESTALE; /* replaced between stat and open */
      }
      s->fd = fd;
      s->own_fd = true;
      free(s->fifo_name);
      s->fifo_name = NULL;
      close(s->dir_fd);
      s->dir_fd = -1;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == ELOOP) return -ESTALE; /* a link put there since it was looked at */
    if (errno != ENXIO || !wait) return -errno;
    if (atomic_load(&s->cancelled)) return -ECANCELED;
    struct timespec ts = {0, PW_FIFO_POLL_NS};
    nanosleep(&ts, NULL);
  }
}

/* A pipe (or FIFO) handed down as fd: written through a description of its
   own, made non-blocking as open_fifo's is (pw_reopen_nonblocking); else
   fd itself, as it is. */
static void reopen_pipe(pw_sink *s, int fd) {
  int nfd = pw_reopen_nonblocking(fd);
  s->fd = nfd >= 0 ? nfd : fd;
  s->own_fd = nfd >= 0;
}

/* A character or block device (leaf in dir): written in place, as
   `> /dev/null` does. */
static int open_device(pw_sink *s, int dir, const char *leaf, int nofollow) {
  int fd = openat(dir, leaf, O_WRONLY | O_NOCTTY | O_CLOEXEC | nofollow);
  if (fd < 0) return errno == ELOOP ? -ESTALE : -errno;
  struct stat st;
  if (fstat(fd, &st) || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
    close(fd);
    return -ESTALE;
  }
  s->fd = fd;
  s->own_fd = true;
  return 0;
}

/* A new file, or one replacing the regular file old: written under a
   temporary name beside target, renamed onto target by pw_sink_finish. */
/* A target's name longer than this is cut at the head of its temporary
   name to its first PW_TEMP_HEAD bytes (whole characters), "~" and the
   FNV-1a hash of the whole name in 8 hex digits, so that ".partial-PID-N"
   fits the 255-byte limit of a name and two long names that begin alike
   keep apart (lib/outfile.ts tempPrefix cuts the same way, to find such
   files again). */
#define PW_TEMP_PREFIX_MAX 191
#define PW_TEMP_HEAD 175

/* Lock the temporary fd, just made as name in dir, for the life of the
   descriptor (flock; over NFS the client makes it a lock the server keeps
   for every node): a run that tidies what runs killed before their end
   left (lib/outfile.ts removeBeside) removes only a temporary it can lock,
   so never a live run's, on another host or in another PID namespace too.
   Such a tidier takes a shared lock and removes the name while it holds
   it: a lock refused here, or a name no longer ours once locked, means the
   name is being removed (false: take another). A file system without locks
   (ENOLCK, EOPNOTSUPP, ENOSYS) leaves it unlocked (true). */
static bool claim_temp(int dir, const char *name, int fd) {
  if (flock(fd, LOCK_EX | LOCK_NB)) return errno != EWOULDBLOCK && errno != EINTR;
  struct stat mine, now;
  return fstat(fd, &mine) == 0 && fstatat(dir, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
         mine.st_dev == now.st_dev && mine.st_ino == now.st_ino;
}

/* A new file named leaf in the folder dir (a descriptor the sink keeps,
   on success: the temporary file is made, renamed and removed in it, even
   if it is renamed meanwhile; by path, a moved folder left the complete
   temporary file behind), or one replacing the regular file old there. */
static int open_replace(pw_sink *s, int dir, const char *leaf, const struct stat *old) {
  size_t len = strlen(leaf), keep = len;
  s->final_name = strdup(leaf);
  s->tmp_name = malloc(len + 64);
  if (!s->final_name || !s->tmp_name) return -ENOMEM;
  char tag[16] = "";
  if (len > PW_TEMP_PREFIX_MAX) {
    keep = PW_TEMP_HEAD;
    while (keep && ((unsigned char)leaf[keep] & 0xc0) == 0x80) keep--; /* whole characters */
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)leaf[i]) * 0x01000193u;
    snprintf(tag, sizeof tag, "~%08x", h);
  }
  int dfd = dir, fd = -1;
  for (int attempt = 0; attempt < 100; attempt++) {
    snprintf(s->tmp_name, len + 64, "%.*s%s.partial-%ld-%d", (int)keep, leaf, tag,
             (long)getpid(), attempt);
    /* Replacing a file: private until it has the old file's owner and mode. */
    fd = openat(dfd, s->tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                old ? 0600 : 0666);
    if (fd < 0 && errno != EEXIST) break;
    if (fd >= 0 && claim_temp(dfd, s->tmp_name, fd)) break;
    if (fd >= 0) { /* a tidier of another run has it: it removes the name */
      close(fd);
      fd = -1;
      errno = EEXIST;
    }
  }
  if (fd < 0) {
    int e = errno;
    free(s->tmp_name); /* nothing made: pw_sink_finish has nothing to remove */
    s->tmp_name = NULL;
    return -e;
  }
  struct stat made;
  if (fstat(fd, &made) == 0) {
    s->tmp_dev = made.st_dev;
    s->tmp_ino = made.st_ino;
  }
  s->dir_fd = dfd;
  s->fd = fd;
  s->own_fd = true;
  if (old) {
    s->has_old = true;
    /* Owner and group as root; else the group where we may (a group we are
       in); the mode after, as chown clears set-id bits. */
    if (fchown(fd, old->st_uid, old->st_gid) && fchown(fd, (uid_t)-1, old->st_gid)) {
      /* keep our own owner and group */
    }
    if (fchmod(fd, old->st_mode & 07777)) { /* stays 0600: the safe side */
    }
  }
  return 0;
}

/* The output named name, by its kind, reached through its folder
   (resolve.h: never through a link another user may have planted where
   the kernel's protected_symlinks would not follow it; a link at the name
   is followed, its target written or replaced, the link kept). */
static int open_path(pw_sink *s, const char *name, char *msg, size_t msgcap) {
  struct stat st;
  int r;
  bool replacing = false; /* an existing regular file */
  bool no_temp = false;   /* replacing it, its temporary file could not be made */
  if (!*name) {
    /* no name (stat says ENOENT): else a temporary file in the current
       folder, written all walk long, and a failed rename at the end */
    snprintf(msg, msgcap, "output name is empty: not written");
    return -ENOENT;
  }
  pw_resolved at;
  if ((r = pw_resolve(name, &at, msg, msgcap))) {
    if (!*msg) snprintf(msg, msgcap, "cannot write %s: %s", name, strerror(-r));
    return r;
  }
  int nofollow = at.follow ? 0 : O_NOFOLLOW;
  if (fstatat(at.dirfd, at.leaf, &st, at.follow ? 0 : AT_SYMLINK_NOFOLLOW)) {
    r = -errno;
    if (r == -ENOENT && at.follow) r = -ESTALE;
    else if (r == -ENOENT && !(r = open_replace(s, at.dirfd, at.leaf, NULL))) at.dirfd = -1; /* kept */
  } else if (S_ISLNK(st.st_mode) ||
             (at.follow && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode) &&
              !S_ISSOCK(st.st_mode))) {
    r = -ESTALE; /* a link put there since it was resolved; a descriptor's file changed */
  } else if (S_ISDIR(st.st_mode)) {
    snprintf(msg, msgcap, "output %s is a folder", name);
    r = -EISDIR;
  } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    r = open_device(s, at.dirfd, at.leaf, nofollow);
  } else if (S_ISFIFO(st.st_mode)) {
    if (!(s->fifo_name = strdup(at.leaf))) {
      r = -ENOMEM;
    } else {
      s->dir_fd = at.dirfd; /* kept */
      s->fifo_nofollow = nofollow;
      at.dirfd = -1;
      if ((r = open_fifo(s, false)) == -ENXIO) r = 0; /* no reader yet: opened at the first write */
    }
  } else if (S_ISREG(st.st_mode)) {
    /* A file the caller could not write itself is not replaced either
       (as the shell's > refuses it): a new file renamed over it would
       take its place, with the caller as its owner. */
    if (faccessat(at.dirfd, at.leaf, W_OK, AT_EACCESS)) r = -errno;
    else {
      replacing = true;
      if (!(r = open_replace(s, at.dirfd, at.leaf, &st))) at.dirfd = -1; /* kept */
      else no_temp = r != -ENOMEM;
    }
  } else {
    snprintf(msg, msgcap, "cannot write %s: %s", name,
             S_ISSOCK(st.st_mode) ? "it is a socket" : "not a file, a device or a FIFO");
    r = -ENXIO;
  }
  if (r == -EISDIR || r == -ENXIO) {
    /* said above */
  } else if (r == -ESTALE) {
    snprintf(msg, msgcap, "cannot write %s: it changed while being opened", name);
  } else if ((r == -EACCES || r == -EROFS) && replacing && at.dirfd >= 0 &&
             faccessat(at.dirfd, at.leaf, W_OK, 0) == 0) {
    /* the file may be written, its folder not: the report goes beside it */
    snprintf(msg, msgcap,
             "cannot write %s: %s in its folder (a report is written whole beside it, then "
             "renamed over it)", name, strerror(-r));
  } else if (r == -EEXIST) {
    /* open_replace tried its 100 names: each one there already (a live
       run's, locked, or one no tidying could remove) */
    snprintf(msg, msgcap,
             "cannot write %s: cannot make its temporary file in its folder: the 100 names it "
             "may take (its name and .partial-%ld-0 to .partial-%ld-99) are all there already",
             name, (long)getpid(), (long)getpid());
  } else if (no_temp) {
    /* the file is there and may be written: what failed is the file beside
       it (a folder that takes no new names, such as /proc; ENOSPC, EDQUOT) */
    snprintf(msg, msgcap,
             "cannot write %s: cannot make its temporary file in its folder: %s (a report is "
             "written whole beside it, then renamed over it)", name, strerror(-r));
  } else if (r) {
    snprintf(msg, msgcap, "cannot write %s: %s", name, strerror(-r));
  }
  pw_resolved_free(&at);
  return r;
}

/* ---- compression ------------------------------------------------------------ */

static int make_slot(pw_sink *s, pw_cslot *c, size_t chunk) {
  if (s->compress == PW_COMPRESS_ZSTD || s->compress == PW_COMPRESS_PARQUET) {
    c->zstd = ZSTD_createCCtx();
    if (!c->zstd) return -ENOMEM;
    c->cap = ZSTD_compressBound(chunk);
    ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_compressionLevel, s->level);
    /* Parquet pages carry no frame checksum (the format has its own, unused) */
    ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_checksumFlag, s->compress == PW_COMPRESS_ZSTD);
    /* Level 1 (the default): a 16 KiB hash table instead of zstd's 64 KiB
       for 256 KiB inputs.  pwalk rows repeat the row before them, which a
       small table finds as well; it stays in L1 cache.  Measured on the
       1M tree: 3% smaller output, no slower (bench --only report-zst). */
    if (s->level == 1) ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_hashLog, 12);
  } else {
    c->gzip = libdeflate_alloc_compressor(s->level);
    if (!c->gzip) return -ENOMEM;
    c->cap = libdeflate_gzip_compress_bound(c->gzip, chunk);
  }
  c->out = malloc(c->cap);
  return c->out ? 0 : -ENOMEM;
}

static int make_slots(pw_sink *s, int nthreads, size_t chunk) {
  long n = pw_cpu_count();
  if (n > nthreads) n = nthreads;
  if (n > 16) n = 16;
  if (n < 1) n = 1;
  s->slots = calloc((size_t)n, sizeof *s->slots);
  if (!s->slots) return -ENOMEM;
  s->nslots = (int)n;
  for (int i = 0; i < s->nslots; i++) {
    pw_cslot *c = &s->slots[i];
    int r = make_slot(s, c, chunk);
    if (r) return r;
    c->next = s->free_slots;
    s->free_slots = c;
  }
  if (s->compress == PW_COMPRESS_PARQUET) return 0;
  int r = make_slot(s, &s->small, chunk);
  if (r) return r;
  s->small_cap = chunk;
  s->small_buf = malloc(chunk);
  return s->small_buf ? 0 : -ENOMEM;
}

/* zstd's error z as a negated errno: out of memory is ENOMEM (said as
   such), anything else EIO. */
static int zstd_errno(size_t z) {
  return ZSTD_getErrorCode(z) == ZSTD_error_memory_allocation ? -ENOMEM : -EIO;
}

/* Compress len bytes of buf into c->out: one zstd frame or gzip member. */
static int compress_chunk(pw_sink *s, pw_cslot *c, const char *buf, size_t len, size_t *outlen) {
  size_t need = s->compress == PW_COMPRESS_ZSTD ? ZSTD_compressBound(len)
                                                : libdeflate_gzip_compress_bound(c->gzip, len);
  if (need > c->cap) { /* an oversized row (a very long path) */
    char *p = realloc(c->out, need);
    if (!p) return -ENOMEM;
    c->out = p;
    c->cap = need;
  }
  if (s->compress == PW_COMPRESS_ZSTD) {
    size_t z = ZSTD_compress2(c->zstd, c->out, c->cap, buf, len);
    if (ZSTD_isError(z)) return zstd_errno(z);
    *outlen = z;
  } else {
    size_t z = libdeflate_gzip_compress(c->gzip, buf, len, c->out, c->cap);
    if (!z) return -EIO;
    *outlen = z;
  }
  return 0;
}

static pw_cslot *take_slot(pw_sink *s) {
  pthread_mutex_lock(&s->pool_mu);
  while (!s->free_slots) pthread_cond_wait(&s->pool_cv, &s->pool_mu);
  pw_cslot *c = s->free_slots;
  s->free_slots = c->next;
  pthread_mutex_unlock(&s->pool_mu);
  return c;
}

static void give_slot(pw_sink *s, pw_cslot *c) {
  pthread_mutex_lock(&s->pool_mu);
  c->next = s->free_slots;
  s->free_slots = c;
  pthread_cond_signal(&s->pool_cv);
  pthread_mutex_unlock(&s->pool_mu);
}

/* ---- writing ------------------------------------------------------------------ */

/* Write all of buf, counting the bytes as they go.  A full pipe or FIFO
   (non-blocking: open_fifo, reopen_pipe, or a descriptor handed down so)
   is polled for room
   PW_FULL_POLL_MS at a time, until the sink is cancelled: -ECANCELED, so
   that a reader that stops reading cannot hold the walk past a signal.  A
   reader that keeps up costs nothing more than the write itself. */
static int sink_write(pw_sink *s, const char *p, size_t len) {
  return pw_write_until(s->fd, p, len, &s->cancelled, &s->bytes);
}

/* Write buf (len may be 0), after opening a waiting FIFO, writing the head
   and the small chunks gathered, if that is still to be done.  Holds
   write_mu.  Nothing more once cancelled (the walk is ending; the output,
   incomplete, is not committed). */
static int write_held(pw_sink *s, const char *buf, size_t len, uint64_t *offset) {
  int r = s->write_err;
  if (!r && atomic_load_explicit(&s->cancelled, memory_order_relaxed)) r = -ECANCELED;
  if (!r && s->fd < 0) r = s->fifo_name ? open_fifo(s, true) : -EBADF;
  if (!r && s->head) {
    r = sink_write(s, s->head, s->head_len);
    free(s->head);
    s->head = NULL;
  }
  if (!r && s->small_len) {
    size_t n = 0;
    r = compress_chunk(s, &s->small, s->small_buf, s->small_len, &n);
    if (!r) r = sink_write(s, s->small.out, n);
    s->small_len = 0;
  }
  if (offset) *offset = atomic_load_explicit(&s->bytes, memory_order_relaxed);
  if (!r && len) {
    r = sink_write(s, buf, len);
  }
  if (r) s->write_err = r;
  return r;
}

static int write_locked(pw_sink *s, const char *buf, size_t len, uint64_t *offset) {
  pthread_mutex_lock(&s->write_mu);
  int r = write_held(s, buf, len, offset);
  pthread_mutex_unlock(&s->write_mu);
  return r;
}

/* Gather a small chunk after those before it; they become one frame
   (member) when they fill the buffer or a larger chunk is written (before
   it, so the order of the writes holds). */
static int gather_small(pw_sink *s, const char *buf, size_t len) {
  pthread_mutex_lock(&s->write_mu);
  int r = s->write_err;
  if (!r && s->small_len + len > s->small_cap) r = write_held(s, NULL, 0, NULL);
  if (!r) {
    memcpy(s->small_buf + s->small_len, buf, len);
    s->small_len += len;
  }
  pthread_mutex_unlock(&s->write_mu);
  return r;
}

/* Keep the head (compressed like every chunk) to write first. */
static int set_head(pw_sink *s, const char *head, size_t len) {
  if (!len) return 0;
  if (s->compress == PW_COMPRESS_NONE || s->compress == PW_COMPRESS_PARQUET) {
    s->head = malloc(len);
    if (!s->head) return -ENOMEM;
    memcpy(s->head, head, len);
    s->head_len = len;
    return 0;
  }
  pw_cslot *c = take_slot(s);
  size_t n = 0;
  int r = compress_chunk(s, c, head, len, &n);
  if (!r && !(s->head = malloc(n))) r = -ENOMEM;
  if (!r) {
    memcpy(s->head, c->out, n);
    s->head_len = n;
  }
  give_slot(s, c);
  return r;
}

int pw_sink_open(pw_sink **out, const struct pw_opts *o, int nthreads, size_t chunk,
                 const char *head, size_t head_len, char *msg, size_t msgcap) {
  *out = NULL;
  snprintf(msg, msgcap, "out of memory");
  pw_sink *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  s->fd = -1;
  s->dir_fd = -1;
  s->compress = o->compress;
  s->level = o->level;
  pthread_mutex_init(&s->write_mu, NULL);
  pthread_mutex_init(&s->pool_mu, NULL);
  pthread_cond_init(&s->pool_cv, NULL);
  int r = 0;
  int lo = 0, hi = 0;
  bool zstd = s->compress == PW_COMPRESS_ZSTD || s->compress == PW_COMPRESS_PARQUET;
  if (zstd) lo = 1, hi = 19;
  else if (s->compress == PW_COMPRESS_GZIP) lo = 1, hi = 9;
  if (!s->level) s->level = zstd                                ? PW_ZSTD_DEFAULT
                            : s->compress == PW_COMPRESS_GZIP ? PW_GZIP_DEFAULT
                                                              : 0;
  if (s->level < lo || s->level > hi) {
    if (s->compress == PW_COMPRESS_NONE) snprintf(msg, msgcap, "plain CSV has no compression level");
    else snprintf(msg, msgcap, "%s level must be %d to %d, got %d",
                  zstd ? "zstd" : "gzip", lo, hi, s->level);
    r = -EINVAL;
    goto fail;
  }
  char fd_name[32]; /* messages name a descriptor as the shell knows it */
  snprintf(fd_name, sizeof fd_name, o->output_fd == 1 ? "stdout" : "descriptor %d", o->output_fd);
  s->name = strdup(o->output ? o->output : fd_name);
  if (!s->name) {
    r = -ENOMEM;
    goto fail;
  }
  if (s->compress != PW_COMPRESS_NONE && (r = make_slots(s, nthreads, chunk))) goto fail;
  if ((r = set_head(s, head, head_len))) {
    if (r != -ENOMEM) snprintf(msg, msgcap, "cannot compress the header");
    goto fail;
  }
  if (o->output) {
    if ((r = open_path(s, o->output, msg, msgcap))) goto fail;
  } else if (o->output_fd >= 0) {
    reopen_pipe(s, o->output_fd);
  } else {
    snprintf(msg, msgcap, "no output given");
    r = -EINVAL;
    goto fail;
  }
  /* The head now, unless a FIFO waits for its reader (not on this thread). */
  if (s->fd >= 0 && s->head && (r = write_locked(s, NULL, 0, NULL))) {
    snprintf(msg, msgcap, "cannot write %s: %s", s->name, strerror(-r));
    goto fail;
  }
  *out = s;
  return 0;
fail:
  pw_sink_finish(s, false, NULL, 0);
  pw_sink_free(s);
  return r;
}

int pw_sink_write(pw_sink *s, const char *buf, size_t len) {
  if (!len) return 0;
  if (s->compress == PW_COMPRESS_NONE || s->compress == PW_COMPRESS_PARQUET)
    return write_locked(s, buf, len, NULL);
  if (len < PW_SINK_SMALL && len <= s->small_cap) return gather_small(s, buf, len);
  pw_cslot *c = take_slot(s);
  size_t n = 0;
  int r = compress_chunk(s, c, buf, len, &n);
  if (!r) r = write_locked(s, c->out, n, NULL);
  give_slot(s, c);
  return r;
}

int pw_sink_append(pw_sink *s, const char *buf, size_t len, uint64_t *offset) {
  return write_locked(s, buf, len, offset);
}

int pw_sink_zstd(pw_sink *s, const void *src, size_t len, void *dst, size_t cap, size_t *n) {
  if (!s->nslots || !s->slots[0].zstd) return -EINVAL;
  pw_cslot *c = take_slot(s);
  size_t z = ZSTD_compress2(c->zstd, dst, cap, src, len);
  give_slot(s, c);
  if (ZSTD_isError(z)) return zstd_errno(z);
  *n = z;
  return 0;
}

const char *pw_sink_name(const pw_sink *s) { return s->name; }

bool pw_sink_file(const pw_sink *s, struct stat *st) {
  return s->fd >= 0 && fstat(s->fd, st) == 0 && S_ISREG(st->st_mode);
}

const char *pw_sink_replaced(const pw_sink *s, int *dirfd) {
  *dirfd = s->dir_fd;
  return s->has_old ? s->final_name : NULL;
}

uint64_t pw_sink_bytes(pw_sink *s) { return atomic_load_explicit(&s->bytes, memory_order_relaxed); }

void pw_sink_cancel(pw_sink *s) { atomic_store(&s->cancelled, true); }

int pw_sink_finish(pw_sink *s, bool commit, char *msg, size_t msgcap) {
  int r = 0;
  /* What is still pending: a FIFO's late open, the head of an empty report,
     the small chunks gathered. */
  if (commit && (r = write_locked(s, NULL, 0, NULL))) commit = false;
  /* A new file is on the disk before it takes the name: after a crash the
     name holds the whole report or the old file, never one cut short. */
  if (commit && s->tmp_name && s->fd >= 0 && fdatasync(s->fd)) {
    r = -errno;
    commit = false;
  }
  /* A cancel that came meanwhile (a Ctrl-C during seconds of NFS flush):
     the new file does not take the name, as after a cancel a moment
     earlier (report_end: the job ends cancelled, not failed). */
  if (commit && s->tmp_name && atomic_load(&s->cancelled)) {
    r = -ECANCELED;
    commit = false;
  }
  /* The temporary kept open past the rename, so that its inode number
     cannot go to another file (one put there by another user) before the
     check that the name holds it (close reports a failed flush, NFS). */
  int kept = s->tmp_name && s->fd >= 0 ? fcntl(s->fd, F_DUPFD_CLOEXEC, 0) : -1;
  if (s->own_fd && s->fd >= 0) {
    if (close(s->fd) && commit) {
      r = -errno;
      commit = false;
    }
    s->fd = -1;
  }
  if (s->tmp_name) {
    if (commit && renameat(s->dir_fd, s->tmp_name, s->dir_fd, s->final_name)) {
      r = -errno;
      commit = false;
    }
    /* The name now holds the file written, unless another user who can
       rename in its folder put a file or link of hers at the temporary
       name just before, which the rename then moved there: the run's
       output is lost then, and the run fails rather than succeed. */
    struct stat now;
    if (commit && (fstatat(s->dir_fd, s->final_name, &now, AT_SYMLINK_NOFOLLOW) ||
                   now.st_dev != s->tmp_dev || now.st_ino != s->tmp_ino)) {
      s->taken = true;
      r = -EEXIST;
    }
    /* a folder that lets no name go (chattr +a) keeps it, empty at least:
       emptied through the descriptor still held, never by its name (which
       another user may have pointed at a file of her choosing meanwhile).
       The name is removed only while it still holds the file written: a
       report that JavaScript left after an abort (its workers in a hung
       file system) ends late, after its temporary was removed by name and
       the name perhaps taken by a later report of the same process (the
       held descriptor keeps the inode number from being reused). */
    struct stat cur;
    if (!commit) {
      bool ours = s->tmp_ino == 0 ||
                  (fstatat(s->dir_fd, s->tmp_name, &cur, AT_SYMLINK_NOFOLLOW) == 0 &&
                   cur.st_dev == s->tmp_dev && cur.st_ino == s->tmp_ino);
      if ((!ours || unlinkat(s->dir_fd, s->tmp_name, 0)) && kept >= 0 && ftruncate(kept, 0)) {
        /* nothing more to do */
      }
    }
    if (kept >= 0) close(kept);
    free(s->tmp_name);
    s->tmp_name = NULL;
  }
  if (s->dir_fd >= 0) close(s->dir_fd);
  s->dir_fd = -1;
  if (r && msg) {
    snprintf(msg, msgcap, "cannot write %s: %s", s->name ? s->name : "the output",
             s->taken ? "another file took the place of the one written as it was renamed "
                        "(another run writing to the same name at once, or another user who "
                        "can change its folder): give each run a name of its own in a folder "
                        "of yours"
                      : strerror(-r));
  }
  return r;
}

void pw_sink_free(pw_sink *s) {
  if (!s) return;
  if (s->tmp_name || s->dir_fd >= 0) pw_sink_finish(s, false, NULL, 0);
  for (int i = 0; i < s->nslots; i++) {
    ZSTD_freeCCtx(s->slots[i].zstd);
    libdeflate_free_compressor(s->slots[i].gzip);
    free(s->slots[i].out);
  }
  free(s->slots);
  ZSTD_freeCCtx(s->small.zstd);
  libdeflate_free_compressor(s->small.gzip);
  free(s->small.out);
  free(s->small_buf);
  free(s->name);
  free(s->final_name);
  free(s->fifo_name);
  free(s->head);
  pthread_mutex_destroy(&s->write_mu);
  pthread_mutex_destroy(&s->pool_mu);
  pthread_cond_destroy(&s->pool_cv);
  free(s);
}
