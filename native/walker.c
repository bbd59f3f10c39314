/*
 * walker.c — the work of one worker thread: take a folder from the queue,
 * open it, list it, stat each name, filter, and dispatch (entries to the
 * visitor, subfolders to the queue), then the folder's own row.  See
 * engine.h and job.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/stat.h>
#include <sys/syscall.h>
#endif

#include "job.h"
#include "sys.h"

/* Subfolders are handed to other workers in chains of this many. */
#define PW_CHAIN 32
/* A lister looks for idle workers every this many names (a power of two),
   and hands them half of its names still to stat when at least this many
   are left: a large folder on a slow file system is then statted by many
   workers instead of one. */
#define PW_SHARE_EVERY 16
#define PW_SHARE_MIN 16

bool pw_path_reserve(pw_worker *w, size_t need) {
  if (need <= w->path_cap) return true;
  size_t cap = w->path_cap ? w->path_cap : 4096;
  while (cap < need) cap *= 2;
  char *p = realloc(w->path, cap);
  if (!p) return false;
  w->path = p;
  w->path_cap = cap;
  return true;
}

static void publish(pw_worker *w) {
  for (int i = 0; i < PW_C_COUNT; i++)
    atomic_store_explicit(&w->pub.c[i], w->local[i], memory_order_relaxed);
}

/* How many entries a worker counts between two publishes within a folder
   (besides one at each folder's end): one folder of a million names on a
   slow file system would otherwise hold the progress still for minutes
   (with one thread, the whole count).  A power of two: one mask a row. */
#define PW_PUBLISH_EVERY 256

static void emit(pw_worker *w, const pw_entry *e) {
  w->local[PW_C_ENTRIES]++;
  w->local[PW_C_BYTES] += (uint64_t)e->st->st_size;
  w->local[PW_C_ALLOC_BYTES] += (uint64_t)e->st->st_blocks * 512;
  if (e->is_dir_row) w->local[PW_C_DIRS]++;
  w->job->vis->entry(w, e);
  if ((w->local[PW_C_ENTRIES] & (PW_PUBLISH_EVERY - 1)) == 0) publish(w);
}

static size_t base_offset(const char *path, size_t len) {
  size_t i = len;
  while (i > 0 && path[i - 1] != '/') i--;
  return i;
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

/* ---- one folder: open, list, stat, filter, dispatch ------------------------ */

/* What one listing accumulates while its names are dispatched. */
typedef struct listing {
  pw_item *it;            /**< the folder being read */
  int fd;                 /**< its descriptor */
  pw_dirref *ref;         /**< fd kept open for the subfolders queued, or NULL */
  bool no_ref;            /**< the descriptor budget was spent: none */
  size_t pre;             /**< bytes of "folder/" in w->path */
  int32_t cdepth;         /**< the depth column of its entries */
  bool skip_deep_dirs;    /**< pwalk --depth: subfolders get no row */
  bool leaf_dirs;         /**< walk's maxDepth: subfolders are entries, not entered */
  int64_t fcount, dirsum; /**< the folder row's pw_fcount and pw_dirsum */
  uint64_t key;           /**< this listing's number (pw_entry.listing and .group) */
  pw_entry e;             /**< the entry being handed over (reused) */
  bool can_share;         /**< its names may be handed to idle workers */
  int8_t overlay;         /**< -x: the folder is on overlayfs (1), not (0), not asked (-1) */
  pw_split *split;        /**< they were: the shared state, or NULL */
  pw_item *first, *last;  /**< subfolders not yet queued */
  size_t n;
} listing;

/* One try at opening the folder of it: by its name in the folder that
   listed it (one lookup, and no path to swap), else by its full path. */
static int open_once(pw_worker *w, pw_item *it, int flags) {
  if (it->parent) return openat(it->parent->fd, it->path + it->name_off, flags);
  if (it->is_root && w->job->root_fd >= 0) { /* opened by pw_job_start */
    int fd = w->job->root_fd;
    w->job->root_fd = -1;
    return fd;
  }
  if (it->front) return pw_job_open_front(w->job, it, flags);
  return pw_open_path(it->path, it->len, flags);
}

#ifdef __linux__
/* The mount a folder (fd, name) is on, or 0 when the kernel does not say
   (before Linux 5.8). */
static uint64_t mount_id(int fd, const char *name) {
  pw_statx_res sx;
  if (pw_statx(fd, name, PW_STATX_MNT_ID, &sx) || !(sx.mask & PW_STATX_MNT_ID)) return 0;
  return sx.mnt_id;
}
#endif

/* PW_OPT_NO_STAT, the folder opened (fd, now: its fstat) not the inode
   its listing gave: whether it is the folder listed all the same.  A
   mount point lists as the folder it covers, and an overlayfs folder can
   list as its layer's (until looked up); a folder swapped for another
   since its listing is neither, and stays a race.  So: its ".." is the
   folder that listed it (device and inode), its name there holds it now,
   and it is a mounted file system's root (another mount than its "..",
   or another device) or on overlayfs or FUSE (a server passing its
   source's inode numbers through lists a mount point of the source as the
   folder it covers, on its one device and mount).  Only on a mismatch:
   three or four calls.  A folder on another device than the one that listed it is
   taken, as before these checks, when one of them cannot be made: its
   ".." cannot be looked up in it without search permission (a mount
   point's root of mode 0744, say, which can still be listed: EACCES),
   nor its path past PATH_MAX (ENAMETOOLONG).  On the same device (a bind
   mount of that file system) such a ".." is not needed: its name in the
   folder that listed it holds it now, and its mount is another than that
   folder's (statx needs no search permission). */
static bool listed_after_all(const pw_item *it, int fd, const struct stat *now) {
  bool other_dev = now->st_dev != it->st.st_dev;
  struct stat up, named;
  bool up_seen = true;
  if (fstatat(fd, "..", &up, AT_SYMLINK_NOFOLLOW)) {
    if (errno != EACCES) return false;
    up_seen = false;
  } else if ((uint64_t)up.st_ino != it->parent_ino || up.st_dev != it->st.st_dev) {
    return false;
  }
  int at = it->parent ? it->parent->fd : AT_FDCWD;
  const char *name = it->parent ? it->path + it->name_off : it->path;
  if (fstatat(at, name, &named, AT_SYMLINK_NOFOLLOW)) {
    if (errno != ENAMETOOLONG || !other_dev) return false;
  } else if (named.st_ino != now->st_ino || named.st_dev != now->st_dev) {
    return false;
  }
  if (other_dev) return true; /* ".." (when it could be looked up) is it->st's device */
#ifdef __linux__
  uint64_t mine = mount_id(fd, ""), above = up_seen      ? mount_id(fd, "..")
                                           : it->parent ? mount_id(it->parent->fd, "")
                                                        : 0;
  if (mine && above && mine != above) return true;
  return up_seen && pw_fd_lists_other_inodes(fd);
#else
  (void)up_seen;
  return false;
#endif
}

/* Open the folder of it (open_once) and begin its listing.  Returns an fd,
   or -1 after reporting why (*raced: it is no longer the folder that was
   listed). */
static int open_checked(pw_worker *w, pw_item *it, bool *raced) {
  int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (it->is_root || it->via_link ? 0 : O_NOFOLLOW);
  bool opened_by_name = it->parent != NULL;
  /* Out of descriptors (the process's limit, or the system's): others
     come free as workers finish their folders.  Waited for, 10 s in all;
     then pw_worker_error makes it fatal, since going on would leave the
     folder out of a run that looks complete.  Elsewhere than Linux the
     listing needs a descriptor of its own and a DIR (pw_dir_begin: dup,
     fdopendir): when either cannot be had, the folder's descriptor is
     given back while it waits (workers each holding one and waiting for a
     second would wait for one another), and a failure is said as the
     folder's open error. */
  int fd, e, begun = 0;
  for (long waited = 0;;) {
    begun = 0;
    fd = open_once(w, it, flags);
    if (fd >= 0 && (begun = pw_dir_begin(&w->ds, fd)) < 0) {
      pw_dir_end(&w->ds);
      close(fd);
      fd = -1;
      errno = -begun;
    }
    e = errno;
    if (fd >= 0 || !pw_job_wait_fd(w->job, e, &waited)) break;
  }
  *raced = false;
  if (fd < 0 && begun < 0) {
    pw_worker_error(w, PW_OP_OPEN, e, it->path, it->len);
    return -1;
  }
  if (fd < 0) {
    /* No longer a folder: a link (O_NOFOLLOW: ENOTDIR on Linux, ELOOP on
       macOS) or a file put in its place since it was listed.  A race, as
       for a shard's planned folder replaced so (job.c), with the errno
       opening it as a folder gives: ENOTDIR. */
    if (!it->is_root && (e == ENOTDIR || (e == ELOOP && (flags & O_NOFOLLOW)))) {
      *raced = true;
      pw_worker_error(w, PW_OP_RACE, ENOTDIR, it->path, it->len);
      return -1;
    }
    /* Gone since it was listed: its open error is its one error (a
       visitor that would look at its row again, repair, leaves it: raced) */
    *raced = !it->is_root && e == ENOENT;
    pw_worker_error(w, PW_OP_OPEN, e, it->path, it->len);
    return -1;
  }
  /* The path may lead elsewhere now (a folder swapped for a link): only
     the very folder that was listed may be read (and, by repair, changed).
     Opened by name inside the folder that listed it (O_NOFOLLOW), no link
     can lead elsewhere, and the listing's own "." tells the inode at no
     cost; opened by path, or when "." does not tell, fstat checks device
     and inode.  Without a stat of the listing (PW_OPT_NO_STAT) there is
     only the listing's inode to compare (and, when it differs,
     listed_after_all). */
  int known = opened_by_name ? pw_dir_is(&w->ds, (uint64_t)it->st.st_ino) : -1;
  if (known == 0 || (known < 0 && (!it->no_stat || !opened_by_name))) {
    /* "." can disagree with fstat on a few file systems (overlayfs): a
       mismatch there is confirmed by fstat before it counts. */
    struct stat now;
    bool seen = !fstat(fd, &now);
    if (seen && now.st_ino == it->st.st_ino && now.st_dev == it->st.st_dev) return fd;
    /* Without a stat, the listing's inode is not always the folder's own:
       a mount point's is the one of the folder it covers, an overlayfs
       folder's can be its layer's.  Its own facts are the ones its entries
       live on.  The device counts even when the inode is the listing's:
       opened by path, a folder above swapped for a link can lead to
       another file system's folder of that very number (one a FUSE or
       tmpfs server numbers alike), which is no mount point here. */
    if (seen && it->no_stat && listed_after_all(it, fd, &now)) {
      it->st.st_dev = now.st_dev;
      it->st.st_ino = now.st_ino;
      return fd;
    }
    pw_dir_end(&w->ds);
    close(fd);
    *raced = true;
    pw_worker_error(w, PW_OP_RACE, ESTALE, it->path, it->len);
    return -1;
  }
  return fd;
}

/* Whether st is a folder above on the walked path a (pw_anc_find): the
   same device and inode, and the same change time too on FUSE (fd: the
   folder, or the one that listed it), where a server passing its source's
   numbers through repeats them.  One fstatfs, only when the change times
   differ. */
static bool anc_cycle(const pw_anc *a, const struct stat *st, int fd) {
  int m = pw_anc_find(a, st);
  return m == PW_ANC_SAME || (m == PW_ANC_OTHER_CTIME && !(fd >= 0 && pw_fd_on_fuse(fd)));
}

/* Whether the open folder of it is one of the folders above it on its
   walked path (the same device and inode): a directory cycle.  A FUSE or
   NFS server can make one (sshfs following links, a looping export, a
   damaged file system): listed, it would be walked again and again
   without end, each lap's paths longer.  A bind mount of a folder above
   it is one too (shown once there, as the mount is not inside itself: as
   GNU find, told, not walked twice).  Told as a loop
   (ELOOP), its row kept as an unreadable folder's, not listed.  Else it
   becomes the last folder of its walked path, for its subfolders (they
   hold it: a reference each).  Following links, the walked path is kept
   as links are met (queue_subfolder) and checked before a folder is
   queued (dispatch_name).  False: not to be listed. */
static bool walked_once(pw_worker *w, pw_item *it, int fd) {
  /* Without a stat of the listing, it->st holds the listing's inode number
     and the parent's device, which a server need not make unique (libfuse
     without use_ino gives every name, "." too, 0xffffffff): the open
     folder's own, by fstat (one call a folder, none an entry).  Its device
     is the one its entries live on (listing_facts): a "." that agreed with
     the listing (open_checked) told the inode, not the device, and a
     mounted folder can have the very inode number of the folder it covers
     (every btrfs subvolume's root is 256, the number the first subvolume
     lists as), whose mount points below would else seem raced
     (listed_after_all). */
  struct stat own;
  const struct stat *st = &it->st;
  if (it->no_stat) {
    if (fstat(fd, &own)) return true; /* not known: as before this check */
    it->st.st_dev = own.st_dev;
    st = &own;
  }
  if (w->job->opts->follow) return true;
  if (anc_cycle(it->anc, st, fd)) {
    pw_worker_error(w, PW_OP_LOOP, ELOOP, it->path, it->len);
    return false;
  }
  pw_anc *self = pw_anc_new(it->anc, st); /* (a reference to the folders above) */
  if (!self) {
    pw_job_fail(w->job, ENOMEM, "out of memory");
    return false;
  }
  pw_anc_put(it->anc);
  it->anc = self;
  return true;
}

/* Open the folder of it (open_checked), then let go of the folder that
   listed it (kept until then for listed_after_all). */
static int open_folder(pw_worker *w, pw_item *it, bool *raced) {
  pw_dirref *parent = it->parent;
  int fd = open_checked(w, it, raced);
  if (parent) pw_dirref_put(&w->job->queue, parent);
  it->parent = NULL;
  return fd;
}

/* Filter: whether a listed subfolder (path: w->path, or a followed link's
   real path) is dropped altogether: no row, not entered. */
static bool drop_subfolder(pw_worker *w, const listing *l, const pw_dent *d, const char *path,
                           size_t len) {
  pw_job *j = w->job;
  const struct pw_opts *o = j->opts;
  if (o->nosnap && d->len == 9 && memcmp(d->name, ".snapshot", 9) == 0) return true;
  if (l->skip_deep_dirs) return true;
  return j->excludes.count && pw_strset_has(&j->excludes, path, len);
}

/* Keep a subfolder for the answer of a held walk; false when out of memory. */
static bool hold_subfolder(pw_worker *w, pw_item *c) {
  if (w->nheld == w->held_cap) {
    uint32_t cap = w->held_cap ? w->held_cap * 2 : 64;
    pw_item **h = realloc(w->held, cap * sizeof *h);
    if (!h) return false;
    w->held = h;
    w->held_cap = cap;
  }
  w->held[w->nheld++] = c;
  return true;
}

/* Queue a subfolder for any worker (or hold it: PW_OPT_HOLD); false when
   the walk must stop.  real: its path is a followed link's real path
   (e->path), not the link's: opened by that path, not by name here. */
static bool queue_subfolder(pw_worker *w, listing *l, const struct stat *st, const pw_entry *e,
                            bool via_link, bool no_stat, bool real) {
  pw_job *j = w->job;
  pw_item *c = pw_item_new(e->path, e->len);
  if (!c) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return false;
  }
  /* The subfolder opens itself relative to this folder's descriptor. */
  if (!real && !l->ref && !l->no_ref) {
    l->ref = pw_dirref_new(&j->queue, l->fd);
    l->no_ref = !l->ref;
  }
  if (!real && l->ref) {
    pw_dirref_get(l->ref);
    c->parent = l->ref;
  }
  c->name_off = e->name_off;
  c->group = l->e.group;
  c->st = *st;
  c->parent_ino = l->it->st.st_ino;
  c->depth = l->cdepth;
  c->via_link = via_link;
  c->below_link = via_link || l->it->below_link;
  c->no_stat = no_stat;
  if (j->opts->follow && !(c->anc = pw_anc_new(l->it->anc, st))) {
    pw_item_free(&j->queue, c);
    pw_job_fail(j, ENOMEM, "out of memory");
    return false;
  }
  if (!j->opts->follow && (c->anc = l->it->anc)) /* the folders above it (walked_once) */
    atomic_fetch_add_explicit(&c->anc->refs, 1, memory_order_relaxed);
  c->user = j->vis->child_user ? j->vis->child_user(w, l->it->user, st) : l->it->user;
  if (j->opts->hold) {
    if (hold_subfolder(w, c)) return true;
    pw_item_free(&j->queue, c);
    pw_job_fail(j, ENOMEM, "out of memory");
    return false;
  }
  c->next = l->first;
  if (!l->first) l->last = c;
  l->first = c;
  if (++l->n == PW_CHAIN) {
    pw_queue_push(&j->queue, l->first, l->last, l->n);
    l->first = l->last = NULL;
    l->n = 0;
  }
  return true;
}

/* PW_OPT_NO_STAT: whether the listing says enough about d (its type),
   without a stat: not for an unknown type, nor for a folder under -x
   (its device matters). */
static bool names_only(const struct pw_opts *o, const pw_dent *d) {
  return d->type != DT_UNKNOWN && !(o->one_fs && d->type == DT_DIR);
}

/* One of the job's own files (its output, a journal), found as name d of
   the listing l: left out. */
static bool own_file(const pw_job *j, const struct stat *st, const listing *l, const pw_dent *d) {
  for (int i = 0; i < j->nskip; i++) {
    const pw_skip *k = &j->skip[i];
    if (k->ino != (uint64_t)st->st_ino || k->dev != (uint64_t)st->st_dev) continue;
    if (!k->name || (k->dir_ino == (uint64_t)l->it->st.st_ino &&
                     k->dir_dev == (uint64_t)l->it->st.st_dev && !strcmp(k->name, d->name)))
      return true;
  }
  return false;
}

/* What the listing alone tells of a name: its type, inode and (as its
   folder's) device; the rest zero. */
static void listing_facts(struct stat *st, const pw_dent *d, const listing *l) {
  memset(st, 0, sizeof *st);
  st->st_mode = DTTOIF(d->type);
  st->st_ino = (ino_t)d->ino;
  st->st_dev = l->it->st.st_dev;
}

/* The real path of the link d (w->path) of the listing being read, as
   realpath gives it, for the caller to free; NULL with errno.  realpath
   resolves the link's own path, which fails (ENAMETOOLONG) when that path
   is past PATH_MAX, however short the real one: on Linux the link is
   followed from the folder's descriptor instead (O_PATH: nothing opened
   for reading, no side effect on a device) and the kernel tells its path.
   When it cannot (no descriptor; no /proc; a path not absolute:
   unreachable from this root; " (deleted)" on a file with no link left:
   removed meanwhile), realpath decides. */
static char *link_real_path(pw_worker *w, const pw_dent *d) {
#if defined(__linux__) && defined(O_PATH)
  int fd = openat(w->ds.fd, d->name, O_PATH | O_CLOEXEC);
  char proc[32], *buf = fd >= 0 ? malloc(PATH_MAX + 1) : NULL;
  if (!buf) { /* (out of descriptors, say) */
    if (fd >= 0) close(fd);
    return realpath(w->path, NULL);
  }
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(proc, buf, PATH_MAX + 1);
  int e = errno;
  /* " (deleted)" is the kernel's mark only on a file with no name left */
  static const char deleted[] = " (deleted)";
  size_t dl = sizeof deleted - 1;
  struct stat st;
  bool gone = n >= (ssize_t)dl && memcmp(buf + n - dl, deleted, dl) == 0 &&
              (fstat(fd, &st) || st.st_nlink == 0);
  close(fd);
  if (n > PATH_MAX || (n < 0 && e == ENAMETOOLONG)) { /* past PATH_MAX itself */
    free(buf);
    errno = ENAMETOOLONG;
    return NULL;
  }
  if (n > 0 && n <= PATH_MAX && buf[0] == '/' && !gone) {
    buf[n] = '\0';
    char *r = realloc(buf, (size_t)n + 1);
    return r ? r : buf;
  }
  free(buf);
#else
  (void)d;
#endif
  return realpath(w->path, NULL);
}

/* Stat, filter and dispatch one name of the listing; false to stop.
   *real: a followed link's real path (PW_OPT_CANONICAL), for the caller
   to free. */
static bool dispatch_name(pw_worker *w, listing *l, const pw_dent *d, char **real) {
  pw_job *j = w->job;
  const struct pw_opts *o = j->opts;
  l->fcount++;
  size_t len = l->pre + d->len;
  if (w->path_cap < len + 1 && !pw_path_reserve(w, len + 1)) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return false;
  }
  memcpy(w->path + l->pre, d->name, d->len + 1);
  struct stat st;
  bool no_stat = o->no_stat && names_only(o, d);
  bool refused = false; /* its stat refused (EACCES): its target no nearer */
  if (no_stat) {
    listing_facts(&st, d, l);
  } else {
    int err = pw_dir_stat(&w->ds, d, &st);
    if (err) {
      pw_worker_error(w, PW_OP_STAT, err, w->path, len);
      if (err != EACCES || !j->vis->keep_unstatted || d->type == DT_UNKNOWN) return true;
      listing_facts(&st, d, l);
      no_stat = true;
      refused = true;
    } else if (j->nskip && own_file(j, &st, l, d)) {
      l->fcount--; /* as if it were not there */
      return true;
    }
  }
  bool via_link = false, link_dir = false;
  /* A link whose own stat was refused (its folder readable, not
     searchable): its target is reached through that folder too, refused
     the same; its one error is said above. */
  if (S_ISLNK(st.st_mode) && !refused && (o->follow || o->link_dirs)) {
    struct stat target;
    int terr = pw_dir_stat_target(&w->ds, d, &target);
    /* walk()'s canonicalize: a link followed is yielded, and its folder
       walked, under its real path (@std/fs's realPath), so every path below
       it is real too.  One that cannot be had (a real path past PATH_MAX:
       ENAMETOOLONG; the link replaced meanwhile) is an error, the link
       yielded as itself. */
    if (terr == 0 && o->follow && o->canonical && !(*real = link_real_path(w, d))) {
      terr = errno;
      pw_worker_error(w, PW_OP_STAT, terr, w->path, len);
    } else if (terr == 0) {
      link_dir = S_ISDIR(target.st_mode);
      if (o->follow) {
        st = target;
        via_link = true;
        no_stat = false;
      }
    } else if (o->follow && !o->link_dirs && terr != ENOENT && terr != ENOTDIR) {
      /* walk() following links: a link whose target is there but cannot
         be reached (EACCES, ELOOP, EIO...) is yielded as the link, and is
         an error (@std/fs's realPath throws).  A link to nothing (ENOENT,
         ENOTDIR) is no error; nor is any for walkDirs (link_dirs), which
         lists the name among the files, as os.walk does. */
      pw_worker_error(w, PW_OP_STAT, terr, w->path, len);
    }
  }
  /* -x: another device than ROOT's, but for a file of an overlayfs
     folder, which reports its layer's device (folders the overlay's): as
     find -xdev, which tests folders only, lists it.  (Asked once per
     listing, at its first such file.) */
  if (o->one_fs && st.st_dev != j->root_dev) {
    if (S_ISDIR(st.st_mode)) return true;
    if (l->overlay < 0) l->overlay = pw_fd_on_overlayfs(l->fd);
    if (!l->overlay) return true;
  }
  /* pwalk's sum is a long, which sparse files can carry past 2^63 (two of
     8 EiB on tmpfs or XFS): summed modulo 2^64 here, as its long wraps on
     every machine it runs on, without the undefined behaviour */
  l->dirsum = (int64_t)((uint64_t)l->dirsum + (uint64_t)st.st_size);
  pw_entry *e = &l->e;
  e->path = w->path;
  e->len = len;
  e->name_off = l->pre;
  if (*real) {
    e->path = *real;
    e->len = strlen(*real);
    e->name_off = base_offset(*real, e->len);
  }
  e->st = &st;
  e->via_link = via_link || l->it->below_link;
  e->no_stat = no_stat;
  e->link_dir = link_dir && !via_link;
  if (!S_ISDIR(st.st_mode)) {
    emit(w, e);
    return true;
  }
  /* a followed link under its real path: dropped by that path, or by the
     link's own (an excluded link stands for the folder it leads to there,
     not wherever else that folder is reached) */
  if (drop_subfolder(w, l, d, e->path, e->len) || (*real && drop_subfolder(w, l, d, w->path, len)))
    return true;
  /* Entered unless at walk's last level, or (following links) a folder
     of its own walked path: a cycle; or, for a visitor that asks (repair),
     the root itself reached again (a bind mount inside the tree: -x
     compares devices only, and a bind mount of the same file system has
     the root's), or a folder it guards (pw_job_guard: above the root, the
     journal's).  The inode compared first: one compare per folder. */
  bool again = j->vis->root_once &&
               ((st.st_ino == j->root_st.st_ino && st.st_dev == j->root_dev) ||
                (j->nguard && pw_job_guarded(j, &st)));
  /* (a folder whose stat was refused is not entered either: its open
     would be refused the same, a second error of one name) */
  /* (following links, the change times differing: the file system asked
     is the candidate's own, opened where it is; the listing's may be
     another, a link out of FUSE or into it) */
  int cand = -1;
  if (o->follow && !l->leaf_dirs && !again && !refused &&
      pw_anc_find(l->it->anc, &st) == PW_ANC_OTHER_CTIME)
#ifdef O_PATH
    cand = openat(l->fd, d->name, O_PATH | O_DIRECTORY | O_CLOEXEC);
#else
    cand = openat(l->fd, d->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
#endif
  bool enter =
      !l->leaf_dirs && !again && !refused && !(o->follow && anc_cycle(l->it->anc, &st, cand));
  if (cand >= 0) close(cand);
  if (o->subdirs) {
    e->subdir_ref = true;
    e->hold = enter ? (o->hold ? w->nheld + 1 : 1) : 0;
    j->vis->entry(w, e);
    e->subdir_ref = false;
    e->hold = 0;
  }
  if (l->leaf_dirs) { /* shown as an entry, never entered */
    emit(w, e);
    return true;
  }
  if (!enter) { /* a cycle: yielded (walk), never entered; the root again: a notice */
    bool root = st.st_ino == j->root_st.st_ino && st.st_dev == j->root_dev;
    if (!refused)
      pw_worker_error(w, again && !root ? PW_OP_LOOP_GUARD : PW_OP_LOOP, again ? 0 : ELOOP,
                      e->path, e->len);
    emit(w, e);
    return true;
  }
  return queue_subfolder(w, l, &st, e, via_link, no_stat, *real != NULL);
}

static bool dispatch(pw_worker *w, listing *l, const pw_dent *d) {
  char *real = NULL;
  bool go_on = dispatch_name(w, l, d, &real);
  free(real);
  return go_on;
}

/* Set up w->path and l->e for the names of l's folder; false when out of
   memory. */
static bool begin_names(pw_worker *w, listing *l) {
  pw_item *it = l->it;
  if (!pw_path_reserve(w, it->len + 2 + 256)) {
    pw_job_fail(w->job, ENOMEM, "out of memory");
    return false;
  }
  memcpy(w->path, it->path, it->len);
  l->pre = it->len;
  /* (a folder's own path is "." only at the root) */
  if (w->job->opts->bare_dot && it->len == 1 && it->path[0] == '.') l->pre = 0;
  else if (l->pre == 0 || w->path[l->pre - 1] != '/') w->path[l->pre++] = '/';
  l->e = (pw_entry){.parent_ino = it->st.st_ino, .depth = l->cdepth, .fcount = -1,
                    .dirfd = l->fd, .selffd = -1, .user = it->user, .listing = l->key,
                    .group = l->key};
  return true;
}

/* Make l's folder shared (its descriptor kept for the parts, the counts
   summed, the row written by the last share); false when it cannot be. */
static bool make_split(pw_worker *w, listing *l) {
  pw_job *j = w->job;
  /* The parts stat relative to the folder's descriptor: keep it open. */
  if (!l->ref && !l->no_ref) {
    l->ref = pw_dirref_new(&j->queue, l->fd);
    l->no_ref = !l->ref;
  }
  pw_split *sp = l->ref ? malloc(sizeof *sp) : NULL;
  if (!sp) return false;
  atomic_init(&sp->refs, 1);
  atomic_init(&sp->todo, 1);
  atomic_init(&sp->fcount, 0);
  atomic_init(&sp->dirsum, 0);
  sp->it = l->it;
  sp->ref = l->ref;
  pw_dirref_get(l->ref);
  sp->key = l->key;
  sp->cdepth = l->cdepth;
  sp->skip_deep_dirs = l->skip_deep_dirs;
  sp->leaf_dirs = l->leaf_dirs;
  l->split = sp;
  return true;
}

/* Hand half of the names still to stat (of the listing's buffer, or of
   the part being statted) to idle workers as a part of l's folder.  Names
   leave the caller only into a part that is queued: when anything is
   missing, the caller keeps statting them itself. */
static void share(pw_worker *w, listing *l, pw_dirpart *part) {
  pw_job *j = w->job;
  /* the names still to stat: of the part, or of the listing's buffer */
  const char *buf = part ? part->buf : w->ds.buf;
  long pos = part ? part->pos : w->ds.pos, *len = part ? &part->len : &w->ds.len;
  /* Too few bytes left for PW_SHARE_MIN names (a record takes 24 at least). */
  if (*len - pos < PW_SHARE_MIN * 24) return;
  if (!l->split && !make_split(w, l)) {
    l->can_share = false;
    return;
  }
  pw_item *p = pw_item_new("", 0);
  if (!p) return;
  if (!pw_split_records(buf, pos, len, PW_SHARE_MIN, &p->names, &p->names_len)) {
    pw_item_free(&j->queue, p);
    return;
  }
  p->split = l->split;
  atomic_fetch_add_explicit(&l->split->refs, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&l->split->todo, 1, memory_order_relaxed);
  pw_queue_push(&j->queue, p, p, 1);
  w->local[PW_C_SHARED]++;
}

/* Whether to try sharing after the k-th name: every PW_SHARE_EVERY names,
   while workers idle.  A macro, so that the per-name cost is one test of
   k in the loop (the compiler kept an inline function out of line). */
#define SHARE_NOW(w, l, k) \
  (!((k) & (PW_SHARE_EVERY - 1)) && (l)->can_share && pw_queue_hungry(&(w)->job->queue))

/* List the open folder, dispatching every name. */
static void list_folder(pw_worker *w, listing *l) {
  pw_job *j = w->job;
  pw_item *it = l->it;
  if (!begin_names(w, l)) return;
  for (unsigned k = 1;; k++) {
    int err;
    const pw_dent *d = pw_dir_next(&w->ds, &err);
    if (!d) {
      if (err) pw_worker_error(w, PW_OP_READ, err, it->path, it->len);
      break;
    }
    if (!dispatch(w, l, d) || pw_queue_stopped(&j->queue)) break;
    if (SHARE_NOW(w, l, k)) share(w, l, NULL);
  }
}

/* A folder's own row, after its listing: pw_fcount and pw_dirsum. */
static void folder_row(pw_worker *w, pw_item *it, int64_t fcount, int64_t dirsum, int fd,
                       bool raced, uint32_t token, uint64_t key) {
  pw_entry row = {.path = it->path, .len = it->len, .name_off = base_offset(it->path, it->len),
                  .st = &it->st, .parent_ino = it->parent_ino, .depth = it->depth,
                  .is_dir_row = true, .fcount = fcount, .dirsum = dirsum, .dirfd = -1,
                  .selffd = fd, .user = it->user, .via_link = it->below_link,
                  .raced = raced, .no_stat = it->no_stat, .hold = token,
                  .group = key, .parent_group = it->group};
  emit(w, &row);
}

/* A share of a shared folder is done: add its counts; the last one out
   writes the folder's row.  The caller drops its reference to the split
   (the lister with pw_split_put, a part with its item). */
static void finish_share(pw_worker *w, listing *l) {
  pw_split *sp = l->split;
  /* Another share still runs: it may write the row, so this share's rows
     must be out first.  (When none does, no new one can start: parts come
     only from running shares, and this is the last; its rows precede the
     row in its own buffer.) */
  if (w->job->vis->flush && atomic_load_explicit(&sp->todo, memory_order_acquire) > 1)
    w->job->vis->flush(w);
  atomic_fetch_add_explicit(&sp->fcount, l->fcount, memory_order_relaxed);
  atomic_fetch_add_explicit(&sp->dirsum, l->dirsum, memory_order_relaxed);
  if (atomic_fetch_sub_explicit(&sp->todo, 1, memory_order_acq_rel) == 1 &&
      !pw_queue_stopped(&w->job->queue))
    folder_row(w, sp->it, atomic_load_explicit(&sp->fcount, memory_order_relaxed),
               atomic_load_explicit(&sp->dirsum, memory_order_relaxed), sp->ref->fd, false, 0,
               sp->key);
}

/* Stat a part of a shared folder's names (handed over by its lister). */
static void process_part(pw_worker *w, listing *l, pw_item *part) {
  pw_job *j = w->job;
  pw_split *sp = part->split;
  l->it = sp->it;
  l->fd = sp->ref->fd;
  l->ref = sp->ref; /* borrowed: the split keeps it */
  l->no_ref = false;
  l->split = sp;
  l->can_share = true;
  l->overlay = -1;
  l->cdepth = sp->cdepth;
  l->skip_deep_dirs = sp->skip_deep_dirs;
  l->leaf_dirs = sp->leaf_dirs;
  l->key = sp->key;
  l->fcount = l->dirsum = 0;
  pw_dir_at(&w->ds, l->fd);
  if (begin_names(w, l)) {
    pw_dirpart p = {.buf = part->names, .len = part->names_len};
    for (unsigned k = 1;; k++) {
      const pw_dent *d = pw_dirpart_next(&p);
      if (!d || !dispatch(w, l, d) || pw_queue_stopped(&j->queue)) break;
      if (SHARE_NOW(w, l, k)) share(w, l, &p);
    }
  }
  pw_dir_end(&w->ds);
  finish_share(w, l);
  l->split = NULL; /* the part item's reference is dropped with the item */
}

/* Read one folder: rows for its non-folder entries, subfolders queued, then
   the folder's own row with pw_fcount and pw_dirsum.  True when the item
   was taken over by a split (its parts are still being statted). */
static bool process_dir(pw_worker *w, listing *l) {
  pw_job *j = w->job;
  const struct pw_opts *o = j->opts;
  pw_item *it = l->it;
  /* Unique in the job: the worker's count of listings, and the worker. */
  l->key = ++w->listings * PW_MAX_WORKERS + (uint64_t)(w - j->workers) + 1;
  if (it->depth >= o->leaf_depth) {
    /* A folder at the leaf depth itself (the root, with leaf depth -1:
       walk's maxDepth 0): its row only, as a leaf folder is an entry; it
       is never opened nor listed (no listing errors), fcount -1. */
    if (it->parent) {
      pw_dirref_put(&j->queue, it->parent);
      it->parent = NULL;
    }
    if (!pw_queue_stopped(&j->queue)) folder_row(w, it, -1, 0, -1, false, 0, l->key);
    return false;
  }
  bool raced;
  l->fd = open_folder(w, it, &raced);
  if (l->fd >= 0 && !walked_once(w, it, l->fd)) {
    pw_dir_end(&w->ds); /* begun by open_folder */
    close(l->fd);
    l->fd = -1;
    /* its row told as a loop: a visitor that changes entries (repair)
       leaves it, changed where it really is, under its own folder's group */
    raced = true;
  }
  l->cdepth = it->depth + 1;
  l->skip_deep_dirs = o->maxdepth > 0 && l->cdepth >= o->maxdepth;
  l->leaf_dirs = l->cdepth >= o->leaf_depth;
  l->fcount = l->dirsum = 0;
  l->ref = NULL;
  l->no_ref = false;
  l->split = NULL;
  /* (names-only walks make no request per name: nothing to share) */
  l->can_share = j->vis->share_listings && !o->hold && !o->subdirs && !o->no_stat;
  l->overlay = -1;
  w->nheld = 0;
  if (l->fd >= 0) {
    list_folder(w, l);
    pw_dir_end(&w->ds); /* begun by open_folder */
  }
  uint32_t token = 0;
  if (w->nheld && !pw_queue_stopped(&j->queue)) {
    /* A held walk: the subfolders wait for the answer to this row. */
    pw_item **items = malloc(w->nheld * sizeof *items);
    if (items) {
      memcpy(items, w->held, w->nheld * sizeof *items);
      token = pw_job_hold(j, items, w->nheld);
      w->nheld = 0;
    } else {
      pw_job_fail(j, ENOMEM, "out of memory");
    }
  }
  for (uint32_t i = 0; i < w->nheld; i++) pw_item_free(&j->queue, w->held[i]); /* not held */
  w->nheld = 0;
  bool kept = l->split != NULL;
  if (kept) { /* parts of it are with other workers: the last one writes the row */
    finish_share(w, l);
    pw_split_put(&j->queue, l->split); /* it is the split's now */
    l->split = NULL;
  } else if (!pw_queue_stopped(&j->queue)) {
    folder_row(w, it, l->fcount, l->dirsum, l->fd, raced, token, l->key);
  }
  if (l->ref) pw_dirref_put(&j->queue, l->ref); /* closes fd once the subfolders opened */
  else if (l->fd >= 0) close(l->fd);
  return kept;
}

static void idle(void *arg) {
  pw_worker *w = arg;
  w->job->vis->idle(w);
}

void *pw_worker_main(void *arg) {
  pw_worker *w = arg;
  pw_thread_name("pwalk-worker");
  pw_xfsz_hold(); /* its change lines, journal lines and error rows: no mask calls per write */
  pw_job *j = w->job;
#ifdef __linux__
  atomic_store(&w->tid, (int)syscall(SYS_gettid));
#endif
  listing l = {0};
  bool finished = false;
  for (;;) {
    pw_item *it = pw_queue_next(&j->queue, l.first, l.last, l.n, finished,
                                j->vis->idle ? idle : NULL, w);
    l.first = l.last = NULL;
    l.n = 0;
    if (!it) break;
    note_current(j, it->split ? it->split->it : it);
    l.it = it;
    bool kept = it->split ? (process_part(w, &l, it), false) : process_dir(w, &l);
    if (!kept) pw_item_free(&j->queue, it);
    finished = true;
    publish(w);
  }
  if (j->vis->worker_end) j->vis->worker_end(w);
  publish(w);
  if (atomic_fetch_sub(&j->live, 1) == 1 && j->vis->workers_done) j->vis->workers_done(j);
  return NULL;
}
