/*
 * repair.c — the repair visitor (shared group access, after repair-shared)
 * and pwalk's chown mode, on the shared parallel engine.
 *
 * Owns: the rules of a repair (setgid on folders, private groups replaced by
 * the nearest ancestor folder's shared group, minimum group access; the
 * root and symbolic links never changed), pwalk's --chown_from/--chown_to
 * (every entry of one uid, links themselves included), the nearest shared
 * group of the root's ancestors, the journal (one line per changed entry,
 * written before the change), change lines and change records, dry runs,
 * the per-kind counters, and undoing a journal line (pw_restore).
 *
 * Safety: nothing is ever changed through a path.  A folder is changed
 * through the fd the engine opened with O_NOFOLLOW and checked to be the
 * folder that was listed (job->verify_dirs); any other entry is opened by
 * name inside its verified folder with O_PATH | O_NOFOLLOW, and changed
 * only if that fd is still the dev+inode (and type) that was listed.  A
 * user who swaps a folder for a symbolic link while the repair runs as
 * root therefore changes nothing outside the tree.  Linux-only calls are
 * under __linux__; elsewhere the same checks use fstatat/fchownat/fchmodat
 * with AT_SYMLINK_NOFOLLOW on the verified folder fd.
 *
 * Journal format (version 1; lib/repair.ts parses it, pw_restore applies
 * it).  ASCII lines; a path is written with every byte <= 0x20, >= 0x7f and
 * the backslash as \xHH, so any name (newlines, non-UTF-8) is one exact line:
 *
 *   #pwalk-journal 1 KIND MODE ROOTDEV ROOTINO ROOT
 *   DEV INO T OLDUID OLDGID OLDMODE NEWUID NEWGID NEWMODE PATH
 *
 * KIND is repair or chown, MODE apply or dry-run, ROOT the root's real
 * path (no links), T one of d f l p s c b, modes four octal digits (07777
 * bits), PATH relative to ROOT ("." for the root itself).  An entry line is
 * appended with a single write() before its change is made, so a crash
 * leaves a line for every change that may have happened.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"

#ifndef O_PATH
#define O_PATH 0
#endif

typedef struct repair_ctx {
  bool chown_mode;
  bool apply;
  bool force_gw;
  int64_t from, to_uid, to_gid;
  int journal_fd, records_fd, changes_fd;
  size_t root_len;   /**< the root as printed (trailing slashes dropped) */
  size_t rel_off;    /**< where an entry's path below the root starts */
  atomic_bool ancestor_reported;
} repair_ctx;

typedef struct repair_worker {
  char *buf;
  size_t cap;
} repair_worker;

/** What happens to one entry: old and new owner, group and mode. */
typedef struct plan {
  uint32_t ouid, ogid, omode;
  uint32_t nuid, ngid, nmode;
  bool noancestor;
} plan;

static bool gid_listed(const struct pw_opts *o, uint32_t gid) {
  for (size_t i = 0; i < o->n_change_gids; i++)
    if ((uint32_t)o->change_gids[i] == gid) return true;
  return false;
}

/* spec rule 2: a group is private when it is the owner's id, 0, or listed */
static bool is_private(const struct pw_opts *o, uint32_t uid, uint32_t gid) {
  return gid == uid || gid == 0 || gid_listed(o, gid);
}

/* The state a folder hands to its children: the nearest shared group at or
   above the folder, 0 when there is none (group 0 never qualifies). */
static uint64_t rp_child_user(pw_worker *w, uint64_t parent, const struct stat *st) {
  if (is_private(w->job->opts, st->st_uid, st->st_gid)) return parent;
  return st->st_gid;
}

static void plan_repair(const pw_job *j, const struct stat *st, uint64_t anc, plan *p) {
  const repair_ctx *c = j->vctx;
  bool dir = S_ISDIR(st->st_mode);
  p->ouid = p->nuid = st->st_uid;
  p->ogid = p->ngid = st->st_gid;
  p->omode = p->nmode = st->st_mode & 07777;
  p->noancestor = false;
  if (is_private(j->opts, st->st_uid, st->st_gid)) {
    if (!anc) p->noancestor = true;
    else if (anc != st->st_gid) p->ngid = (uint32_t)anc;
  }
  mode_t need = dir ? (c->force_gw ? S_IRWXG : S_IRGRP | S_IXGRP)
                    : (c->force_gw ? S_IRGRP | S_IWGRP : S_IRGRP);
  p->nmode |= need;
  if (dir) p->nmode |= S_ISGID;
  /* A file handed to another group loses setuid/setgid, as with chgrp: a
     setgid program must not start running with the project's group. */
  else if (p->ngid != p->ogid) p->nmode &= ~(mode_t)(S_ISUID | S_ISGID);
}

static void plan_chown(const repair_ctx *c, const struct stat *st, plan *p) {
  p->ouid = st->st_uid;
  p->ogid = st->st_gid;
  p->omode = p->nmode = st->st_mode & 07777;
  p->nuid = (uint32_t)c->to_uid;
  p->ngid = c->to_gid >= 0 ? (uint32_t)c->to_gid : st->st_gid;
  p->noancestor = false;
}

static bool plan_empty(const plan *p) {
  return p->ouid == p->nuid && p->ogid == p->ngid && p->omode == p->nmode;
}

static char type_char(mode_t m) {
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
static size_t journal_escape(char *out, const char *s, size_t len) {
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

static bool buf_reserve(repair_worker *r, size_t need) {
  if (need <= r->cap) return true;
  size_t cap = r->cap ? r->cap : 4096;
  while (cap < need) cap *= 2;
  char *b = realloc(r->buf, cap);
  if (!b) return false;
  r->buf = b;
  r->cap = cap;
  return true;
}

/* One journal-format line for entry e into r->buf; returns its length. */
static size_t format_record(const repair_ctx *c, repair_worker *r, const pw_entry *e,
                            const struct stat *st, const plan *p) {
  size_t n = (size_t)snprintf(r->buf, r->cap, "%llu %llu %c %u %u %04o %u %u %04o ",
                              (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
                              type_char(st->st_mode), p->ouid, p->ogid, p->omode, p->nuid,
                              p->ngid, p->nmode);
  if (e->len <= c->root_len) {
    r->buf[n++] = '.';
  } else {
    n += journal_escape(r->buf + n, e->path + c->rel_off, e->len - c->rel_off);
  }
  r->buf[n++] = '\n';
  return n;
}

/* The human change lines (repair-shared's format; pwalk's bare path for
   chown) for what p changes, appended at r->buf + at. */
static size_t format_lines(const repair_ctx *c, repair_worker *r, size_t at, const pw_entry *e,
                           const plan *p, bool dir) {
  char *b = r->buf;
  size_t n = at;
  if (c->chown_mode) {
    n += pw_escape_path(b + n, e->path, e->len);
    b[n++] = '\n';
    return n;
  }
  if (p->ngid != p->ogid) {
    n += pw_escape_path(b + n, e->path, e->len);
    n += (size_t)sprintf(b + n, ": group %u -> %u\n", p->ogid, p->ngid);
  }
  bool setgid_added = dir && !(p->omode & S_ISGID) && (p->nmode & S_ISGID);
  uint32_t shown = setgid_added ? p->nmode & ~(uint32_t)S_ISGID : p->nmode;
  if (shown != p->omode) {
    n += pw_escape_path(b + n, e->path, e->len);
    n += (size_t)sprintf(b + n, ": mode %04o -> %04o\n", p->omode, shown);
  }
  if (setgid_added) {
    n += pw_escape_path(b + n, e->path, e->len);
    n += (size_t)sprintf(b + n, ": setgid added\n");
  }
  return n;
}

static void count_plan(pw_worker *w, const repair_ctx *c, const plan *p, bool dir) {
  if (plan_empty(p)) return;
  pw_count(w, PW_C_CHANGED, 1);
  if (c->chown_mode) {
    pw_count(w, PW_C_CHANGES, 1);
    return;
  }
  uint64_t n = 0;
  bool setgid_added = dir && !(p->omode & S_ISGID) && (p->nmode & S_ISGID);
  uint32_t shown = setgid_added ? p->nmode & ~(uint32_t)S_ISGID : p->nmode;
  if (p->ngid != p->ogid) {
    pw_count(w, PW_C_GROUP, 1);
    n++;
  }
  if (shown != p->omode) {
    pw_count(w, PW_C_MODE, 1);
    n++;
  }
  if (setgid_added) {
    pw_count(w, PW_C_SETGID, 1);
    n++;
  }
  pw_count(w, PW_C_CHANGES, n);
}

/* Write a whole buffer with one write() where possible (O_APPEND files and
   pipes keep a line from one thread in one piece). */
static int put(int fd, const char *b, size_t n) {
  if (fd < 0 || !n) return 0;
  return pw_write_all(fd, b, n);
}

/* Record and output what p did (dry run: would do) to entry e. */
static void report_done(pw_worker *w, repair_worker *r, const pw_entry *e, const struct stat *st,
                        const plan *p) {
  repair_ctx *c = w->job->vctx;
  bool dir = S_ISDIR(st->st_mode);
  count_plan(w, c, p, dir);
  if (c->records_fd >= 0) {
    size_t n = format_record(c, r, e, st, p);
    int err = put(c->records_fd, r->buf, n);
    if (err) pw_job_fail(w->job, -err, "cannot write the change records: %s", strerror(-err));
  }
  if (c->changes_fd >= 0) {
    size_t n = format_lines(c, r, 0, e, p, dir);
    (void)put(c->changes_fd, r->buf, n); /* stdout closed: the counts still tell */
  }
}

static void note_no_ancestor(pw_worker *w) {
  repair_ctx *c = w->job->vctx;
  pw_count(w, PW_C_NOANCESTOR, 1);
  if (!atomic_exchange(&c->ancestor_reported, true))
    pw_errlog_add(&w->job->errors, PW_OP_ANCESTOR, 0, w->job->opts->root, c->root_len);
}

/** Where to make the changes of one entry. */
typedef struct target {
  int fd;         /**< fd of the entry (a folder's own fd, or O_PATH), or -1 */
  bool own;       /**< close fd afterwards */
  bool opath;     /**< fd is O_PATH: mode through /proc/self/fd */
  int dirfd;      /**< without O_PATH: the verified folder and the name */
  const char *name;
} target;

static bool same_entry(const struct stat *a, const struct stat *b) {
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
         (a->st_mode & S_IFMT) == (b->st_mode & S_IFMT);
}

/* Open entry e for changing and fstat it into *now.  0, -ESTALE when a
   different entry is there now, 1 to skip silently, or -errno. */
static int open_target(const pw_entry *e, target *t, struct stat *now) {
  t->fd = -1;
  t->own = false;
  t->opath = false;
  t->dirfd = -1;
  t->name = NULL;
  if (e->is_dir_row) {
    if (e->selffd >= 0) {
      t->fd = e->selffd;
      if (fstat(t->fd, now)) return -errno;
    } else {
#ifdef __linux__
      /* A folder the caller may not read (its listing failed, already
         reported) can still be changed by its owner: open it O_PATH. */
      int flags = O_PATH | O_DIRECTORY | O_CLOEXEC | (e->depth < 0 ? 0 : O_NOFOLLOW);
      t->fd = pw_open_path(e->path, e->len, flags);
      if (t->fd < 0) return errno == ELOOP || errno == ENOTDIR ? -ESTALE : -errno;
      t->own = true;
      t->opath = true;
      if (fstat(t->fd, now)) return -errno;
#else
      return 1;
#endif
    }
  } else {
    const char *name = e->path + e->name_off;
#ifdef __linux__
    t->fd = openat(e->dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (t->fd < 0) return -errno;
    t->own = true;
    t->opath = true;
    if (fstat(t->fd, now)) return -errno;
#else
    t->dirfd = e->dirfd;
    t->name = name;
    if (fstatat(e->dirfd, name, now, AT_SYMLINK_NOFOLLOW)) return -errno;
#endif
  }
  return same_entry(now, e->st) ? 0 : -ESTALE;
}

static int target_chown(const target *t, uint32_t uid, uint32_t gid) {
  int rc;
#ifdef __linux__
  if (t->opath) rc = fchownat(t->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
  else
#endif
      if (t->fd >= 0) rc = fchown(t->fd, uid, gid);
  else rc = fchownat(t->dirfd, t->name, uid, gid, AT_SYMLINK_NOFOLLOW);
  return rc ? -errno : 0;
}

static int target_stat(const target *t, struct stat *st) {
  int rc = t->fd >= 0 ? fstat(t->fd, st) : fstatat(t->dirfd, t->name, st, AT_SYMLINK_NOFOLLOW);
  return rc ? -errno : 0;
}

static int target_chmod(const target *t, mode_t mode) {
  int rc;
#ifdef __linux__
  if (t->opath) {
    /* fchmod refuses O_PATH fds; the fd's /proc link reaches the very inode. */
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", t->fd);
    rc = fchmodat(AT_FDCWD, p, mode, 0);
  } else
#endif
      if (t->fd >= 0) rc = fchmod(t->fd, mode);
  else rc = fchmodat(t->dirfd, t->name, mode, AT_SYMLINK_NOFOLLOW);
  return rc ? -errno : 0;
}

static void change_error(pw_worker *w, const pw_entry *e, int op, int err) {
  pw_errlog_add(&w->job->errors, op, err, e->path, e->len);
}

static void rp_entry(pw_worker *w, const pw_entry *e) {
  pw_job *j = w->job;
  repair_ctx *c = j->vctx;
  repair_worker *r = w->vstate;
  if (e->subdir_ref || e->raced) return; /* raced: the engine reported it */
  const struct stat *st = e->st;
  bool root_row = e->is_dir_row && e->depth < 0;
  if (c->chown_mode) {
    if ((int64_t)st->st_uid != c->from) return;
  } else if (root_row || S_ISLNK(st->st_mode)) {
    return; /* spec: the root is not changed; links never are */
  }
  if (!buf_reserve(r, e->len * 4 * 4 + 512)) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return;
  }
  plan p;
  if (c->chown_mode) plan_chown(c, st, &p);
  else plan_repair(j, st, e->user, &p);
  if (!c->apply || plan_empty(&p)) {
    /* A dry run, or nothing to do by the listing: no fd needed. */
    if (p.noancestor) note_no_ancestor(w);
    if (plan_empty(&p)) return;
    if (c->journal_fd >= 0) {
      size_t n = format_record(c, r, e, st, &p);
      int err = put(c->journal_fd, r->buf, n);
      if (err) pw_job_fail(j, -err, "cannot write the journal: %s", strerror(-err));
    }
    report_done(w, r, e, st, &p);
    return;
  }

  /* Apply: examine the entry again through an fd that cannot lead
     elsewhere, and plan from what that fd shows now. */
  target t;
  struct stat now;
  int rc = open_target(e, &t, &now);
  if (rc) {
    if (rc == -ESTALE) change_error(w, e, PW_OP_RACE, ESTALE);
    else if (rc < 0) change_error(w, e, rc == -ENOENT ? PW_OP_STAT : PW_OP_CHANGE, -rc);
    goto done;
  }
  if (c->chown_mode) {
    if ((int64_t)now.st_uid != c->from) goto done; /* given away meanwhile */
    plan_chown(c, &now, &p);
  } else {
    plan_repair(j, &now, e->user, &p);
  }
  if (p.noancestor) note_no_ancestor(w);
  if (plan_empty(&p)) goto done;
  if (c->journal_fd >= 0) {
    size_t n = format_record(c, r, e, &now, &p);
    ssize_t wn = write(c->journal_fd, r->buf, n); /* one write: one whole line */
    if (wn != (ssize_t)n) {
      int err = wn < 0 ? errno : ENOSPC;
      pw_job_fail(j, err, "cannot write the journal: %s", strerror(err));
      goto done; /* nothing is changed without its journal line */
    }
  }
  plan got = p; /* what really happened */
  got.nuid = p.ouid;
  got.ngid = p.ogid;
  got.nmode = p.omode;
  bool owner = p.nuid != p.ouid || p.ngid != p.ogid;
  if (owner) {
    rc = target_chown(&t, p.nuid != p.ouid ? p.nuid : (uint32_t)-1,
                      p.ngid != p.ogid ? p.ngid : (uint32_t)-1);
    if (rc) {
      change_error(w, e, PW_OP_CHANGE, -rc);
    } else {
      got.nuid = p.nuid;
      got.ngid = p.ngid;
    }
  }
  /* chown may clear setuid/setgid: set the planned mode after it.  Links
     have no mode of their own to set. */
  if (!S_ISLNK(now.st_mode) &&
      (p.nmode != p.omode || (owner && (p.omode & (S_ISUID | S_ISGID)) && !c->chown_mode))) {
    rc = target_chmod(&t, p.nmode);
    if (rc) {
      change_error(w, e, PW_OP_CHANGE, -rc);
    } else {
      /* Without CAP_FSETID the kernel drops a setgid bit silently (the
         caller is not in the group): report what really happened. */
      struct stat chk;
      if (target_stat(&t, &chk) == 0 && (uint32_t)(chk.st_mode & 07777) != p.nmode) {
        change_error(w, e, PW_OP_CHANGE, EPERM);
        got.nmode = chk.st_mode & 07777;
      } else {
        got.nmode = p.nmode;
      }
    }
  }
  if (!plan_empty(&got)) report_done(w, r, e, &now, &got);
done:
  if (t.own && t.fd >= 0) close(t.fd);
}

static int rp_worker_start(pw_worker *w) {
  repair_worker *r = calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  if (!buf_reserve(r, 8192)) {
    free(r);
    return -ENOMEM;
  }
  w->vstate = r;
  return 0;
}

static void rp_worker_free(pw_worker *w) {
  repair_worker *r = w->vstate;
  if (!r) return;
  free(r->buf);
  free(r);
  w->vstate = NULL;
}

static void rp_job_free(pw_job *j) {
  free(j->vctx);
  j->vctx = NULL;
}

static const pw_visitor repair_visitor = {
    .worker_start = rp_worker_start,
    .entry = rp_entry,
    .child_user = rp_child_user,
    .worker_free = rp_worker_free,
    .job_free = rp_job_free,
};

static const pw_visitor chown_visitor = {
    .worker_start = rp_worker_start,
    .entry = rp_entry,
    .worker_free = rp_worker_free,
    .job_free = rp_job_free,
};

/* The nearest shared group of the root and its ancestors (never `/`). */
static uint64_t root_group(const struct pw_opts *o, const char *real, const struct stat *root) {
  if (strcmp(real, "/") == 0) return 0;
  if (!is_private(o, root->st_uid, root->st_gid)) return root->st_gid;
  size_t len = strlen(real);
  char *p = malloc(len + 1);
  if (!p) return 0;
  memcpy(p, real, len + 1);
  uint64_t g = 0;
  for (;;) {
    char *slash = strrchr(p, '/');
    if (!slash || slash == p) break; /* the parent is `/`: never used */
    *slash = 0;
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && !is_private(o, st.st_uid, st.st_gid)) {
      g = st.st_gid;
      break;
    }
  }
  free(p);
  return g;
}

PW_API pw_job *pw_repair_start(const pw_opts *o) {
  bool chown_mode = o && o->chown_from >= 0;
  pw_job *j = pw_job_create(o, chown_mode ? &chown_visitor : &repair_visitor);
  if (!j || j->fatal_msg[0]) return j;
  struct pw_opts *jo = j->opts;
  if (chown_mode && jo->chown_uid < 0) {
    pw_job_fail(j, EINVAL, "chown needs a new owner (PW_OPT_CHOWN_UID)");
    return j;
  }
  repair_ctx *c = calloc(1, sizeof *c);
  if (!c) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return j;
  }
  j->vctx = c;
  j->verify_dirs = true;
  c->chown_mode = chown_mode;
  c->apply = jo->apply;
  c->force_gw = jo->force_gw;
  c->from = jo->chown_from;
  c->to_uid = jo->chown_uid;
  c->to_gid = jo->chown_gid;
  c->journal_fd = jo->journal_fd;
  c->records_fd = jo->records_fd;
  c->changes_fd = jo->changes_fd;
  atomic_init(&c->ancestor_reported, false);
  size_t len = jo->root_len; /* as the engine prints it */
  while (len > 1 && jo->root[len - 1] == '/') len--;
  c->root_len = len;
  c->rel_off = len == 1 && jo->root[0] == '/' ? 1 : len + 1;

  char *real = realpath(jo->root, NULL);
  if (!real) {
    int e = errno;
    pw_job_fail(j, e, "%s: %s", jo->root, strerror(e));
    return j;
  }
  if (!chown_mode) j->root->user = root_group(jo, real, &j->root->st);
  if (c->journal_fd >= 0) {
    size_t rl = strlen(real);
    char *line = malloc(rl * 4 + 128);
    if (!line) {
      free(real);
      pw_job_fail(j, ENOMEM, "out of memory");
      return j;
    }
    size_t n = (size_t)sprintf(line, "#pwalk-journal 1 %s %s %llu %llu ",
                               chown_mode ? "chown" : "repair", c->apply ? "apply" : "dry-run",
                               (unsigned long long)j->root->st.st_dev,
                               (unsigned long long)j->root->st.st_ino);
    n += journal_escape(line + n, real, rl);
    line[n++] = '\n';
    int err = pw_write_all(c->journal_fd, line, n);
    free(line);
    if (err) {
      free(real);
      pw_job_fail(j, -err, "cannot write the journal: %s", strerror(-err));
      return j;
    }
  }
  free(real);
  pw_job_launch(j);
  return j;
}

PW_API int32_t pw_fd_open(const uint8_t *path, size_t len) {
  if (!path || !len || memchr(path, 0, len)) return -EINVAL;
  char *p = malloc(len + 1);
  if (!p) return -ENOMEM;
  memcpy(p, path, len);
  p[len] = 0;
  int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  int e = errno;
  free(p);
  return fd < 0 ? -e : fd;
}

PW_API int32_t pw_fd_close(int32_t fd) {
  int rc = 0;
  if (fsync(fd) && errno != EINVAL && errno != EROFS) rc = -errno;
  if (close(fd) && !rc) rc = -errno;
  return rc;
}

/* Open an absolute path without following any link: each folder on the way
   O_NOFOLLOW | O_DIRECTORY, the last component itself O_NOFOLLOW (a link
   is opened as the link).  Without O_PATH the last component is not opened:
   *parent and *name are set instead.  Returns an fd, or -1 with errno. */
static int open_nofollow(const char *path, int *parent, const char **name) {
  *parent = -1;
  *name = NULL;
  if (path[0] != '/') {
    errno = EINVAL;
    return -1;
  }
#ifdef __linux__
  const int dflags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
#else
  const int dflags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
#endif
  int fd = open("/", dflags & ~O_NOFOLLOW);
  if (fd < 0) return -1;
  const char *p = path;
  for (;;) {
    while (*p == '/') p++;
    if (!*p) return fd; /* the path was "/" (or ended in '/') */
    const char *end = strchr(p, '/');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    const char *after = p + n;
    while (*after == '/') after++;
    bool last = !*after;
    char comp[NAME_MAX + 1];
    if (n > NAME_MAX) {
      close(fd);
      errno = ENAMETOOLONG;
      return -1;
    }
    memcpy(comp, p, n);
    comp[n] = 0;
    if ((n == 1 && comp[0] == '.') || (n == 2 && comp[0] == '.' && comp[1] == '.')) {
      close(fd);
      errno = EINVAL;
      return -1;
    }
    if (last) {
#ifdef __linux__
      int next = openat(fd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      int e = errno;
      close(fd);
      errno = e;
      return next;
#else
      *parent = fd;
      *name = p; /* NUL-terminated: the rest of path */
      return -2;
#endif
    }
    int next = openat(fd, comp, dflags);
    int e = errno;
    close(fd);
    if (next < 0) {
      errno = e;
      return -1;
    }
    fd = next;
    p = after;
  }
}

PW_API int32_t pw_restore(const uint8_t *path, size_t len, const int64_t *v, int32_t apply) {
  if (!path || !len || memchr(path, 0, len)) return -EINVAL;
  char *p = malloc(len + 1);
  if (!p) return -ENOMEM;
  memcpy(p, path, len);
  p[len] = 0;
  int parent;
  const char *name;
  int fd = open_nofollow(p, &parent, &name);
  target t = {.fd = -1, .dirfd = -1};
  struct stat now;
  int32_t out = 0;
  if (fd == -1) {
    out = -errno;
    goto end;
  }
  if (fd >= 0) {
    t.fd = fd;
    t.own = true;
#ifdef __linux__
    t.opath = true;
#endif
    if (fstat(fd, &now)) {
      out = -errno;
      goto end;
    }
  } else {
#ifdef __linux__
    out = -EINVAL; /* open_nofollow always opens the entry here */
    goto end;
#else
    t.dirfd = parent;
    t.name = name;
    if (fstatat(parent, name, &now, AT_SYMLINK_NOFOLLOW)) {
      out = -errno;
      goto end;
    }
#endif
  }
  if ((uint64_t)now.st_dev != (uint64_t)v[0] || (uint64_t)now.st_ino != (uint64_t)v[1] ||
      (now.st_mode & S_IFMT) != (mode_t)v[2]) {
    out = -ESTALE;
    goto end;
  }
  uint32_t ouid = (uint32_t)v[3], ogid = (uint32_t)v[4], omode = (uint32_t)v[5];
  uint32_t nuid = (uint32_t)v[6], ngid = (uint32_t)v[7], nmode = (uint32_t)v[8];
  uint32_t cmode = now.st_mode & 07777;
  uid_t uid = (uid_t)-1;
  gid_t gid = (gid_t)-1;
  /* Owner+group, and mode, each go back only while they still hold what
     the journal set (owner and group as one: a half match is someone
     else's change, or another file that reuses the inode number). */
  if (now.st_uid != ouid || now.st_gid != ogid) {
    if (now.st_uid == nuid && now.st_gid == ngid) {
      if (nuid != ouid) uid = ouid;
      if (ngid != ogid) gid = ogid;
    } else {
      out |= PW_RESTORE_OWNER_KEPT;
    }
  }
  bool mode_back = false;
  if (cmode != omode) {
    /* a chown may have cleared setuid/setgid after the journal's change */
    if (cmode == nmode || (cmode | (nmode & (S_ISUID | S_ISGID))) == nmode) mode_back = true;
    else out |= PW_RESTORE_MODE_KEPT;
  }
  if (uid != (uid_t)-1 || gid != (gid_t)-1) out |= PW_RESTORE_OWNER;
  if (mode_back) out |= PW_RESTORE_MODE;
  if (!apply) goto end;
  if (uid != (uid_t)-1 || gid != (gid_t)-1) {
    int rc = target_chown(&t, uid, gid);
    if (rc) {
      out = rc;
      goto end;
    }
  }
  if (!S_ISLNK(now.st_mode)) {
    uint32_t want = mode_back ? omode : cmode;
    struct stat after;
    int rc = target_stat(&t, &after);
    if (rc) {
      out = rc;
      goto end;
    }
    if ((after.st_mode & 07777) != want) {
      rc = target_chmod(&t, want);
      if (rc) out = rc;
    }
  }
end:
  if (t.own && t.fd >= 0) close(t.fd);
  if (parent >= 0) close(parent);
  free(p);
  return out;
}
