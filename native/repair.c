/*
 * repair.c — the repair visitor (shared group access, after repair-shared;
 * docs/repair.md) and pwalk's chown mode, on the shared parallel engine.
 *
 * Owns: the rules of a repair (setgid on folders, private groups replaced by
 * the nearest ancestor folder's shared group, minimum group access; the
 * root and symbolic links never changed), pwalk's --chown_from/--chown_to
 * (every entry of one uid, links themselves included), the nearest shared
 * group of the root's ancestors, dry runs, the per-kind counters, and what
 * a change leaves: its journal line (journal.h, before the change), its
 * change lines (stdout), its change record (channel.h, for the API).
 *
 * Safety: nothing is ever changed through a path.  A folder is changed
 * through the fd the engine opened with O_NOFOLLOW and checked to be the
 * folder that was listed; any other entry is reached by name inside its
 * verified folder (fdops.h), and changed only if it is still the dev+inode
 * (and type) that was listed.  A user who swaps a folder for a symbolic
 * link while the repair runs as root therefore changes nothing outside the
 * tree.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/capability.h>
#include <sys/syscall.h>
#endif

#include "changes.h"
#include "channel.h"
#include "engine.h"
#include "errlog.h"
#include "fdops.h"
#include "journal.h"
#include "names.h"
#include "sys.h"

/* What a hard-linked file's slot keeps while its names are being counted
   (count_link): freed once every name has been reached (done), kept till
   the end for a file that is never done, whose first name's path the
   hardlinks notice then names. */
struct link_wait {
  struct timespec ctime; /**< its ctime when first reached */
  uint32_t nnames;       /**< names reached so far */
  uint32_t names_cap;    /**< room in names (0: names_in, 2) */
  uint64_t *names;       /**< the names reached, hashes of (folder, name), each once;
                              NULL: in names_in (two names: most hard-linked files) */
  uint64_t names_in[2];
  size_t len;            /**< the path's length (0: not kept: the first name's plan
                              changes nothing, and nothing is told) */
  char path[];           /**< the first name reached, for the notice when not all are */
};

static void free_wait(struct link_wait *w) {
  if (w) free(w->names);
  free(w);
}

typedef struct repair_ctx {
  bool chown_mode;
  bool apply;
  bool force_gw;
  int64_t from, to_uid, to_gid;
  /* chown by a caller without CAP_FSETID (Linux): its groups (the
     effective one first), to tell the setgid bits its chowns clear */
  gid_t *groups;
  int ngroups; /**< -1: privileged (or not Linux): no such clearing planned */
  int journal_fd, changes_fd;
  pw_journal_syncer syncer; /**< syncs journal lines no later line came to sync */
  int own_changes_fd;  /**< changes_fd's pipe opened again non-blocking (-1: none) */
  bool changes_stdout; /**< changes_fd is fd 1: named stdout in a write error */
  atomic_bool lines_off; /**< --apply whose change lines' pipe was closed: no more lines */
  _Atomic bool stop;   /**< cancelled: a change line waits for a full pipe no more */
  pw_channel *records; /**< change records for pw_job_next, or NULL */
  size_t root_len;     /**< the root as printed (trailing slashes dropped) */
  int64_t start_sec;   /**< the second the job started (Linux: CLOCK_REALTIME_COARSE), before the walk */
  size_t rel_off;      /**< where an entry's path below the root starts */
  atomic_bool ancestor_reported;
  /* Files (of any type but a folder: a FIFO or socket too) with other
     hard links that the rules would change at one of their names (or, of
     a private group, might: rule 6).  A
     hard-linked file shares its inode with every other name of it,
     wherever those lie: repair changes it only once every one of its names
     (st_nlink) has been reached in the walked tree, through the last of
     them, as its first name planned, and lists and counts it once; one
     with a name elsewhere (linked in from outside ROOT, or in a folder the
     run did not enter), or whose names may have changed during the run
     (names_settled), is left alone (PW_OP_HARDLINKS, told when the walk
     ends, if the first name's plan changed it).  chown changes such
     a file through its first name.  Open addressing on (dev, ino), under
     links_mu.  Memory: a slot is 32 bytes, in a table at most half full
     (64 to 128 bytes per file, till the run ends); a file still waiting
     for names has a link_wait besides (56 bytes and its first name's
     path, one allocation; 8 bytes a name beyond two), freed once every
     name is reached (docs/repair.md, "Memory").  A file whose setid or
     device notice each name would tell gets a slot too, to tell it once
     (tells_once). */
  pthread_mutex_t links_mu;
  struct link_slot {
    uint64_t dev, ino;
    struct link_wait *wait; /**< while its names are counted (repair), else NULL: freed
                                 once done (chown's slots have none) */
    uint32_t gid;     /**< repair: the nearest shared group of the first name's folder
                           (its e->user, 0: none), whose plan is the file's (rule 6);
                           chown: the group the first name planned; LINK_LEFT: left
                           alone */
    bool used;
    bool change;      /**< the first name's plan changes the file (else it stays as it
                           is, and no name reached or not is told) */
    bool done;        /**< every name reached: changed (or listed) through the last */
    bool moved;       /**< its names may have changed during the run: the ctime changed
                           between two names, or was not older than the run's start
                           second (names_settled) at one of them; a name may then have
                           been renamed (or linked and unlinked) from a folder already
                           listed to one not yet, and counted twice (never changed
                           then; told as not all reached, its names no longer counted) */
  } *links;
  size_t links_cap, links_n;
} repair_ctx;

/* The access ACL of the entry being looked at, read once for both
   widens_acl and check_acl (read_acl), reset at each entry. */
typedef struct acl_seen {
  bool have;             /**< read for this entry */
  const void *via;       /**< through this target (NULL: by name), never taken for another's */
  ssize_t n;             /**< read_acl's answer */
  unsigned char *v;      /**< the value: b, or memory of its own */
  unsigned char b[4096];
} acl_seen;

typedef struct repair_worker {
  char *buf;
  size_t cap;
  acl_seen acl;        /**< the entry's ACL, once read */
  uint64_t ovl_listing; /**< the listing (and device) whose overlayfs test is ovl */
  dev_t ovl_dev;
  bool ovl;
  pw_batch *batch; /**< the worker's batch of change records */
  pw_names names;  /**< group names of the change lines */
} repair_worker;

/* ---- the rules ------------------------------------------------------------ */

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
  if (is_private(pw_job_opts(pw_worker_job(w)), st->st_uid, st->st_gid)) return parent;
  return st->st_gid;
}

/* Whether a file of mode m runs with other rights than its caller's:
   setuid with an execute bit, or setgid with group execute. */
static bool runs_setid(uint32_t m) {
  return ((m & S_ISUID) && (m & (S_IXUSR | S_IXGRP | S_IXOTH))) ||
         ((m & S_ISGID) && (m & S_IXGRP));
}

/* What a repair does to st, below a folder whose nearest shared group is
   anc (0: none; *noancestor is then set for a private group, and nothing
   is changed). */
static void plan_repair(const pw_job *j, const struct stat *st, uint64_t anc, pw_change *p,
                        bool *noancestor) {
  const repair_ctx *c = pw_job_ctx(j);
  bool dir = S_ISDIR(st->st_mode);
  p->ouid = p->nuid = st->st_uid;
  p->ogid = p->ngid = st->st_gid;
  p->omode = p->nmode = st->st_mode & 07777;
  *noancestor = false;
  if (is_private(pw_job_opts(j), st->st_uid, st->st_gid)) {
    /* Left alone (spec rule 2), mode and setgid too: group access or a
       setgid bit added for the private group (often root's group 0) would
       open the entry to that group and hand it down. */
    if (!anc) {
      *noancestor = true;
      return;
    }
    if (anc != st->st_gid) p->ngid = (uint32_t)anc;
  }
  mode_t need = dir ? (c->force_gw ? S_IRWXG : S_IRGRP | S_IXGRP)
                    : (c->force_gw ? S_IRGRP | S_IWGRP : S_IRGRP);
  /* A file handed to another group loses setuid/setgid, as with chgrp: a
     setgid program must not start running with the project's group. */
  if (!dir && p->ngid != p->ogid) p->nmode &= ~(mode_t)(S_ISUID | S_ISGID);
  /* One that keeps them (its group stays) is not made group-writable: a
     member of its group could rewrite it, through a shared mapping (which,
     unlike write(2), leaves the bits on), and run that as its owner (a
     setuid root helper: as root).  Told by a setid notice (setid_kept).
     Only bits that can take effect: setuid with an execute bit, setgid
     with group execute (without it, a mandatory-locking mark), on a
     regular file (a FIFO or socket is never run). */
  if (S_ISREG(st->st_mode) && runs_setid(p->nmode)) need &= ~(mode_t)S_IWGRP;
  p->nmode |= need;
  if (dir) p->nmode |= S_ISGID;
}

/* Whether repair's plan p of st keeps a set-id file from the group write
   --force-group-writable gives (plan_repair): said in a setid notice. */
static bool setid_kept(const repair_ctx *c, const struct stat *st, const pw_change *p) {
  return !c->chown_mode && c->force_gw && S_ISREG(st->st_mode) && runs_setid(p->nmode) &&
         !(p->nmode & S_IWGRP);
}

/* Whether c's caller is in group gid or has CAP_FSETID: what the kernel
   asks (in_group_or_capable) before it lets a chown keep a setgid bit
   (plan_chown). */
static bool keeps_sgid(const repair_ctx *c, gid_t gid) {
  for (int i = 0; i < c->ngroups; i++)
    if (c->groups[i] == gid) return true;
  return c->ngroups < 0;
}

static void plan_chown(const repair_ctx *c, const struct stat *st, pw_change *p) {
  p->ouid = st->st_uid;
  p->ogid = st->st_gid;
  p->omode = p->nmode = st->st_mode & 07777;
  p->nuid = (uint32_t)c->to_uid;
  p->ngid = c->to_gid >= 0 ? (uint32_t)c->to_gid : st->st_gid;
  /* What the kernel does to a file (not a folder or link) given to another
     owner or group (fs/open.c chown_common, fs/attr.c notify_change,
     setattr_prepare, setattr_copy): setuid dropped; setgid too when
     group-executable, or when the caller is neither privileged nor in the
     file's old group (setattr_should_drop_sgid); and, once setuid or
     setgid was dropped (the kernel then sets the mode too), when that
     caller is not in the file's NEW group either (the mode's setgid bit
     is checked against the group the chown gives).  It is planned, so that
     the journal, the change lines and the records say what the file is
     left with (and it is set so after the chown; the mode is read back
     after it, for a kernel that does otherwise). */
  if ((p->nuid != p->ouid || p->ngid != p->ogid) && !S_ISDIR(st->st_mode) &&
      !S_ISLNK(st->st_mode)) {
    bool suid = (p->nmode & S_ISUID) != 0;
    p->nmode &= ~(uint32_t)S_ISUID;
    if ((p->nmode & S_IXGRP) || !keeps_sgid(c, st->st_gid) ||
        (suid && !keeps_sgid(c, (gid_t)p->ngid)))
      p->nmode &= ~(uint32_t)S_ISGID;
  }
}

/* The plan for st: chown's, or repair's below a folder whose nearest
   shared group is anc (an entry's own: e->user; a hard-linked file's
   last name: its first name's, rule 6). */
static void plan(pw_worker *w, const struct stat *st, uint64_t anc, pw_change *p,
                 bool *noancestor) {
  pw_job *j = pw_worker_job(w);
  repair_ctx *c = pw_job_ctx(j);
  *noancestor = false;
  if (c->chown_mode) plan_chown(c, st, p);
  else plan_repair(j, st, anc, p, noancestor);
}

/* ---- what a change leaves ------------------------------------------------- */

static bool buf_reserve(repair_worker *r, size_t need) {
  if (need <= r->cap) return true;
  char *b = pw_grow(r->buf, &r->cap, need);
  if (b) r->buf = b;
  return b != NULL;
}

/* The journal line of e (stat st) changed as p into r->buf; its length. */
static size_t journal_line(const repair_ctx *c, repair_worker *r, const pw_entry *e,
                           const struct stat *st, const pw_change *p, const pw_btime *bt) {
  bool root = e->len <= c->root_len;
  return pw_journal_line(r->buf, st, p, bt, root ? NULL : e->path + c->rel_off,
                         root ? 0 : e->len - c->rel_off);
}

static void count_change(pw_worker *w, const repair_ctx *c, const pw_change *p,
                         const struct stat *st) {
  bool dir = S_ISDIR(st->st_mode);
  pw_count(w, PW_C_CHANGED, 1);
  pw_count(w, PW_C_HARDLINKS, pw_hard_linked(st));
  if (c->chown_mode) {
    pw_count(w, PW_C_CHANGES, 1);
    return;
  }
  bool sg = pw_setgid_added(p, dir);
  uint64_t group = p->ngid != p->ogid, mode = pw_shown_mode(p, dir) != p->omode;
  pw_count(w, PW_C_GROUP, group);
  pw_count(w, PW_C_MODE, mode);
  pw_count(w, PW_C_SETGID, sg);
  pw_count(w, PW_C_CHANGES, group + mode + sg);
}

/* The change record of e for JavaScript (listChanges, onChange). */
static void change_record(pw_worker *w, repair_ctx *c, repair_worker *r, const pw_entry *e,
                          const struct stat *st, const pw_change *p) {
  int err;
  uint8_t *rec = pw_channel_put(c->records, &r->batch, PW_REC_CHANGE, e->path, e->len,
                                e->name_off, &err);
  if (!rec) {
    if (err) pw_job_fail(pw_worker_job(w), err, "out of memory");
    return;
  }
  memset(rec + 16, 0, PW_REC_SIZE - 16);
  pw_put_u32(rec + 20, (uint32_t)(st->st_mode & S_IFMT) | p->nmode);
  pw_put_u32(rec + 24, p->nuid);
  pw_put_u32(rec + 28, p->ngid);
  pw_put_f64(rec + 48, (double)st->st_ino);
  pw_put_f64(rec + 56, (double)st->st_dev);
  pw_put_u32(rec + 104, p->omode);
  pw_put_u32(rec + 108, p->ouid);
  pw_put_u32(rec + 112, p->ogid);
}

/* Count and show what p did (dry run: would do) to entry e. */
static void report_done(pw_worker *w, repair_worker *r, const pw_entry *e, const struct stat *st,
                        const pw_change *p) {
  repair_ctx *c = pw_job_ctx(pw_worker_job(w));
  count_change(w, c, p, st);
  if (c->records) change_record(w, c, r, e, st, p);
  if (c->changes_fd < 0 || atomic_load_explicit(&c->lines_off, memory_order_relaxed)) return;
  int err = pw_write_until(c->changes_fd, r->buf,
                           pw_change_lines(r->buf, c->chown_mode, !c->apply, &r->names, e, st, p),
                           &c->stop, NULL);
  if (!err || err == -ECANCELED) return; /* cancelled: the job is stopping already */
  if (err == -EPIPE && c->apply) {
    /* closed early (| head): an applied run goes on to its end without its
       lines (a repair stopped part way is worse than lines not seen; the
       journal holds every change) */
    atomic_store(&c->lines_off, true);
    return;
  }
  /* A dry run's list whose reader went away (EPIPE: the CLI's quiet 141),
     or a list that cannot be written whole (a full disk, EIO, /dev/full):
     the run stops, as a report does, rather than end with a list cut short
     and a summary that counts what it lacks.  With --apply the change just
     made was journaled before it: the journal holds every change made. */
  pw_job_fail(pw_worker_job(w), -err, "cannot write %s: %s",
              c->changes_stdout ? "stdout" : "the change lines", strerror(-err));
}

/* Whether t (entry e, stat st) is on overlayfs: an fstatfs per folder
   listing and device, not per entry (the entries of one listing with one
   st_dev are on one file system; a folder's own row, which may be a mount
   point, is asked each time). */
static bool on_overlayfs(repair_worker *r, const pw_entry *e, const struct stat *st,
                         const pw_target *t) {
  /* (no target: a dry run's entry, asked through its folder's descriptor) */
  if (e->is_dir_row || !e->listing)
    return t ? pw_target_on_overlayfs(t) : e->dirfd >= 0 && pw_fd_on_overlayfs(e->dirfd);
  if (r->ovl_listing != e->listing || r->ovl_dev != st->st_dev) {
    r->ovl = t ? pw_target_on_overlayfs(t) : e->dirfd >= 0 && pw_fd_on_overlayfs(e->dirfd);
    r->ovl_listing = e->listing;
    r->ovl_dev = st->st_dev;
  }
  return r->ovl;
}

/* Journal line of a change about to be made through t (or planned, or
   the mark of one refused: t NULL); false: don't.  The entry's birth time, read only for an entry
   to change, lets undo tell it from a file born since under its inode
   number.  Not on overlayfs ("-"): the change itself copies an entry of
   a lower layer up, under the same inode number with a new birth time,
   and undo would take the run's own entry for another file. */
static bool journal(pw_worker *w, repair_worker *r, const pw_entry *e, const struct stat *st,
                    const pw_change *p, const pw_target *t) {
  pw_job *j = pw_worker_job(w);
  repair_ctx *c = pw_job_ctx(j);
  if (c->journal_fd < 0) return true;
  pw_btime bt = {.known = false};
  if (t && !on_overlayfs(r, e, st, t)) bt.known = pw_target_btime(t, &bt.sec, &bt.nsec);
  int err = pw_journal_append(c->journal_fd, r->buf, journal_line(c, r, e, st, p, &bt));
  if (!err) return true;
  pw_job_fail(j, -err, "cannot write the journal: %s", strerror(-err));
  return false; /* nothing is changed without its journal line */
}

static void note_no_ancestor(pw_worker *w) {
  pw_job *j = pw_worker_job(w);
  repair_ctx *c = pw_job_ctx(j);
  pw_count(w, PW_C_NOANCESTOR, 1);
  size_t len;
  const char *root = pw_job_root(j, &len);
  if (!atomic_exchange(&c->ancestor_reported, true))
    pw_job_note_error(j, PW_OP_ANCESTOR, 0, root, len);
}

/* ---- files with other hard links ---------------------------------------- */

static size_t link_hash(uint64_t dev, uint64_t ino, size_t cap) {
  uint64_t h = (ino ^ (dev * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
  return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* Under links_mu: st's slot, or the empty one where it would go (NULL
   while the table is empty). */
static struct link_slot *find_link(repair_ctx *c, const struct stat *st) {
  if (!c->links_cap) return NULL;
  size_t k = link_hash((uint64_t)st->st_dev, (uint64_t)st->st_ino, c->links_cap);
  for (; c->links[k].used; k = (k + 1) & (c->links_cap - 1))
    if (c->links[k].dev == (uint64_t)st->st_dev && c->links[k].ino == (uint64_t)st->st_ino) break;
  return &c->links[k];
}

/* What the first name of st (a file with other hard links) left in its
   slot (count_link, first_link), if one did: false when none did. */
static bool seen_link(repair_ctx *c, const struct stat *st, uint32_t *first) {
  pthread_mutex_lock(&c->links_mu);
  struct link_slot *l = find_link(c, st);
  bool seen = l && l->used;
  if (seen) *first = l->gid;
  pthread_mutex_unlock(&c->links_mu);
  return seen;
}

/* The planned group of a file its first name left alone (capabilities). */
#define LINK_LEFT UINT32_MAX

/* Mark st's entry as left alone by its first name (LINK_LEFT). */
static void mark_link_left(repair_ctx *c, const struct stat *st) {
  pthread_mutex_lock(&c->links_mu);
  struct link_slot *l = find_link(c, st);
  if (l && l->used) l->gid = LINK_LEFT;
  pthread_mutex_unlock(&c->links_mu);
}

/* Under links_mu: room for one more slot (false when out of memory). */
static bool grow_links(repair_ctx *c) {
  if (2 * (c->links_n + 1) <= c->links_cap) return true;
  size_t cap = c->links_cap ? c->links_cap * 2 : 1024;
  struct link_slot *t = calloc(cap, sizeof *t);
  if (!t) return false;
  for (size_t i = 0; i < c->links_cap; i++) {
    if (!c->links[i].used) continue;
    size_t k = link_hash(c->links[i].dev, c->links[i].ino, cap);
    while (t[k].used) k = (k + 1) & (cap - 1);
    t[k] = c->links[i];
  }
  free(c->links);
  c->links = t;
  c->links_cap = cap;
  return true;
}

/* Whether st (a file with other hard links, planned to become group gid)
   is met for the first time; if not, the group its first name planned in
   *first.  Out of memory: as if first (the change is then made, as before).
   (chown's rule: the first name changes it.) */
static bool first_link(repair_ctx *c, const struct stat *st, uint32_t gid, uint32_t *first) {
  pthread_mutex_lock(&c->links_mu);
  if (!grow_links(c)) {
    pthread_mutex_unlock(&c->links_mu);
    return true;
  }
  struct link_slot *l = find_link(c, st);
  bool met = l->used;
  if (met) {
    *first = l->gid;
  } else {
    *l = (struct link_slot){.dev = (uint64_t)st->st_dev, .ino = (uint64_t)st->st_ino, .gid = gid,
                            .used = true};
    c->links_n++;
  }
  pthread_mutex_unlock(&c->links_mu);
  return !met;
}

/* Whether a notice of st (not a folder) that each of its names would tell
   alike (setid, device) is told at this one: a file with other hard links
   at the first name reached only, once per file as rule 7 says (its slot
   LINK_LEFT: no plan to read from it; count_link takes it over should a
   later name of it be counted).  No lock for a file with one name. */
static bool tells_once(repair_ctx *c, const struct stat *st) {
  uint32_t first;
  return !pw_hard_linked(st) || first_link(c, st, LINK_LEFT, &first);
}

/* Whether no name of st can have changed since the run started: a link,
   unlink or rename sets the inode's ctime to "now", at the file system's
   granularity, which may be a whole second (ext4 with 128-byte inodes,
   Lustre) or a tick: names linked and unlinked within one granule leave
   the ctime as it was, so equal ctimes at two names prove nothing by
   themselves.  A ctime in a second before the one the run started in
   does, whatever the granularity (a file server whose clock is behind
   ours by more than the granularity weakens this; the ctimes of the
   names reached must still be equal too). */
static bool names_settled(const repair_ctx *c, const struct stat *st) {
  return (int64_t)st->PW_CTIM.tv_sec < c->start_sec;
}

/* Count e, a name of st (a file of any type but a folder, a FIFO or a
   socket too, with other hard links, below a folder whose nearest shared
   group is anc; change: whether e's own plan
   changes it), once however often it is reached (a folder seen twice
   through a bind mount).  1 when with it every name of the file (st_nlink
   as e's stat tells) has been reached: the caller changes it as its first
   name planned, through e; 0 when not yet, or done already; -ENOMEM.
   *first: the anc of its first name (LINK_LEFT: left alone); *first_path:
   NULL, or, when its first name's anc is not anc (its folder wants another
   group: a links notice may follow) and that name's path is still kept, a
   copy of it for the notice (the caller frees it). */
static int count_link(repair_ctx *c, const struct stat *st, const pw_entry *e, uint32_t anc,
                      bool change, uint32_t *first, char **first_path) {
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a of the folder's inode and the name */
  for (int i = 0; i < 8; i++) h = (h ^ ((e->parent_ino >> (8 * i)) & 0xff)) * 0x100000001b3ull;
  for (size_t i = e->name_off; i < e->len; i++)
    h = (h ^ (unsigned char)e->path[i]) * 0x100000001b3ull;
  *first_path = NULL;
  pthread_mutex_lock(&c->links_mu);
  int rc = -ENOMEM;
  if (!grow_links(c)) goto out;
  struct link_slot *l = find_link(c, st);
  bool used = l->used;
  /* (a slot with nothing to count, not done: only tells_once leaves one in
     a repair, for a name that was not counted: taken over) */
  if (!used || (!l->wait && !l->done)) {
    /* the path only for a file the first name's plan changes: else
       nothing is told of it */
    size_t keep = change ? e->len : 0;
    struct link_wait *w = malloc(sizeof *w + keep + 1);
    if (!w) goto out;
    memset(w, 0, sizeof *w);
    w->ctime = st->PW_CTIM;
    w->len = keep;
    memcpy(w->path, e->path, keep);
    w->path[keep] = 0;
    *l = (struct link_slot){.dev = (uint64_t)st->st_dev, .ino = (uint64_t)st->st_ino, .wait = w,
                            .gid = anc, .used = true, .change = change,
                            .moved = !names_settled(c, st)};
    if (!used) c->links_n++;
  } else if (l->wait && !l->moved &&
             (l->wait->ctime.tv_sec != st->PW_CTIM.tv_sec ||
              l->wait->ctime.tv_nsec != st->PW_CTIM.tv_nsec || !names_settled(c, st))) {
    /* a rename changes the renamed inode's ctime: one of its names moved
       while the walk went (or the file changed otherwise), or may have (a
       ctime of the run's start second or later): its names can no longer
       be told apart by where they were seen */
    l->moved = true;
  }
  *first = l->gid;
  rc = 0;
  struct link_wait *w = l->wait;
  if (w && w->len && l->gid != anc && (*first_path = malloc(w->len + 1)))
    memcpy(*first_path, w->path, w->len + 1);
  /* done (or never to be: moved), or chown's: nothing more to count */
  if (!w || l->done || l->moved) {
    if (w && l->moved && w->names) { /* its names are no use now: only its path is */
      free(w->names);
      w->names = NULL;
      w->names_cap = 0;
      w->nnames = 0;
    }
    goto out;
  }
  uint64_t *names = w->names ? w->names : w->names_in;
  bool known = false;
  for (uint32_t i = 0; i < w->nnames && !known; i++) known = names[i] == h;
  if (!known) {
    uint32_t cap = w->names ? w->names_cap : 2;
    if (w->nnames == cap) {
      uint64_t *n = w->names ? realloc(w->names, 2 * cap * sizeof *n) : malloc(2 * cap * sizeof *n);
      if (!n) {
        rc = -ENOMEM;
        goto out;
      }
      if (!w->names) memcpy(n, w->names_in, sizeof w->names_in);
      w->names = names = n;
      w->names_cap = 2 * cap;
    }
    names[w->nnames++] = h;
  }
  if (w->nnames >= (uint64_t)st->st_nlink) {
    /* every name reached: changed through this one; the names and the
       path are no use any more (a name reached again, through a bind
       mount, finds the slot done) */
    l->done = true;
    l->wait = NULL;
    free_wait(w);
    rc = 1;
  }
out:
  pthread_mutex_unlock(&c->links_mu);
  return rc;
}

/* ---- making a change ------------------------------------------------------- */

/* A regular file with file capabilities whose owner or group p changes:
   the kernel drops them on that chown (as it drops setuid), the journal
   cannot record them and undo cannot put them back; or that repair's p
   makes group-writable (--force-group-writable): a member of its group
   could rewrite it through a shared mapping, which, unlike write(2),
   leaves them on, and run that with them (rule 4's reason for setuid).
   Said as a notice (PW_OP_CAPABILITY); true when repair must then leave
   the file alone (chown, asked for by name, goes on).  One attribute read per such change,
   --apply's through the very descriptor the change goes through, a dry
   run's by name inside the verified folder (pw_entry_xattr_peek, one
   system call): a file whose attributes cannot be read is left alone
   too, with the reason. */
static bool loses_caps(pw_worker *w, const pw_entry *e, const struct stat *st, const pw_change *p,
                       const pw_target *t) {
#ifdef __linux__
  const repair_ctx *c = pw_job_ctx(pw_worker_job(w));
  bool writable = !c->chown_mode && (p->nmode & S_IWGRP) && !(p->omode & S_IWGRP);
  if (!S_ISREG(st->st_mode) || (p->nuid == p->ouid && p->ngid == p->ogid && !writable))
    return false;
  /* --apply: through the very descriptor the change goes through */
  ssize_t n;
  /* (the read may open a descriptor: out of them, waited for as a folder's
     open is, then the job fails, the file left alone) */
  for (long waited = 0;;) {
    n = t ? pw_target_xattr(t, e, "security.capability", NULL, 0)
          : pw_entry_xattr_peek(e, "security.capability", NULL, 0);
    if (n >= 0 || !pw_job_wait_fd(pw_worker_job(w), (int)-n, &waited)) break;
  }
  if (n < 0 && pw_out_of_resources((int)-n)) {
    pw_worker_error(w, PW_OP_CAPABILITY, (int)-n, e->path, e->len);
    return true;
  }
  /* none; or gone, or replaced: the change's own check says so (stat, race) */
  if (n == -ENODATA || n == -ENOTSUP || n == 0 || n == -ENOENT || n == -ESTALE) return false;
  /* capabilities, or no way to tell (then repair leaves it too): said */
  pw_job_note_error(pw_worker_job(w), PW_OP_CAPABILITY, n > 0 ? 0 : (int)-n, e->path, e->len);
  return !c->chown_mode;
#else
  (void)w, (void)e, (void)st, (void)p, (void)t;
  return false;
#endif
}

#ifdef __linux__
/* The access ACL of e (through t, when given, the very descriptor the
   change goes through), read whole: its size, *v pointing at it (buf, or
   memory of its own when it is larger than cap: the caller frees *v when
   it is not buf), or -errno (-ENODATA: none).  One read when it fits buf:
   most entries have none, and that read's ENODATA says so.  A larger one
   (over 500 named entries) is asked its size and read again, as long as it
   grew meanwhile (a few times at most: -ERANGE then).  A value that is not
   a version-2 ACL (an empty one is none) is -EBADMSG: never read as none. */
static ssize_t read_acl(const pw_entry *e, const pw_target *t, unsigned char *buf, size_t cap,
                        unsigned char **v) {
  static const char attr[] = "system.posix_acl_access";
  *v = buf;
  ssize_t n = t ? pw_target_xattr(t, e, attr, buf, cap) : pw_entry_xattr_peek(e, attr, buf, cap);
  unsigned char *m = NULL;
  for (int tries = 0; n == -ERANGE && tries < 8; tries++) {
    free(m);
    m = NULL;
    ssize_t size = t ? pw_target_xattr(t, e, attr, NULL, 0) : pw_entry_xattr_peek(e, attr, NULL, 0);
    if (size <= 0) {
      n = size;
      break;
    }
    if (!(m = malloc((size_t)size))) {
      n = -ENOMEM;
      break;
    }
    n = t ? pw_target_xattr(t, e, attr, m, (size_t)size)
          : pw_entry_xattr_peek(e, attr, m, (size_t)size);
  }
  if (n > 0 && m) *v = m;
  else free(m);
  if (n > 0 && (n < 4 || (n - 4) % 8 || (*v)[0] != 2 || (*v)[1] || (*v)[2] || (*v)[3])) {
    if (*v != buf) free(*v);
    *v = buf;
    return -EBADMSG;
  }
  return n;
}

/* The entry's ACL (read_acl), read once per entry for both widens_acl and
   check_acl: a dry run read it twice, one system call per changed entry
   for nothing. */
static void forget_acl(acl_seen *a, bool after_change);

static ssize_t entry_acl(acl_seen *a, const pw_entry *e, const pw_target *t, unsigned char **v) {
  if (a->have && a->via != (const void *)t) forget_acl(a, false);
  if (!a->have) {
    a->n = read_acl(e, t, a->b, sizeof a->b, &a->v);
    a->have = true;
    a->via = t;
  }
  *v = a->v;
  return a->n;
}

/* Forget the ACL read (a new entry; or, with --apply, a change made since
   that may have changed it: kept only when there was none, which a chown
   or chmod does not make, or when it has a mask entry, which a chmod
   changes instead of group::, the entry check_acl reads). */
static void forget_acl(acl_seen *a, bool after_change) {
  if (!a->have) return;
  if (after_change) {
    if (a->n == 0 || a->n == -ENODATA || a->n == -ENOTSUP) return;
    for (ssize_t k = 4; a->n > 0 && k + 8 <= a->n; k += 8)
      if ((a->v[k] | (unsigned)a->v[k + 1] << 8) == 0x10 /* ACL_MASK */) return;
  }
  if (a->v != a->b) free(a->v);
  a->v = a->b;
  a->have = false;
}
#endif

/* An entry with an access ACL that names users or groups (user:bob:rw-,
   group:students:r--) besides the group it has after the change: its
   mode's group bits are the ACL's mask, which limits those entries too.  An owner's chmod 600 leaves them in the ACL
   with the mask at ---, shut out; the group bits the plan gives would
   raise the mask and let them in, beyond the project's group.  Such an
   entry is left alone, and said (PW_OP_ACL_NAMED); so is one whose ACL
   cannot be read (no way to tell: the notice carries the errno), as
   loses_caps does.  And one whose group changes while its group entry
   (group::, and any entry naming the new group, within the mask) gives
   less than its other entry (other::): the new group's members reach it
   as others now, and would be kept to group:: once it is their group's
   (a world-readable file, or folder, under group::---, closed to the very
   project it was to be shared with; no chmod changes group::):
   PW_OP_ACL_OTHER.  One attribute read per entry to change, the ACL read
   whole however large (read_acl, through descriptors); with t, through the
   very descriptor the change goes through. */
static bool widens_acl(pw_worker *w, const pw_entry *e, const struct stat *st, const pw_change *p,
                       const pw_target *t) {
#ifdef __linux__
  if (S_ISLNK(st->st_mode)) return false;
  unsigned more = ((p->nmode >> 3) & 7) & ~((p->omode >> 3) & 7); /* mask bits added */
  bool regroup = p->ngid != p->ogid;
  if (!more && !regroup) return false;
  unsigned char *v;
  ssize_t n = entry_acl(&((repair_worker *)*pw_worker_state(w))->acl, e, t, &v);
  /* none (or no ACLs on that file system) */
  if (n == 0 || n == -ENODATA || n == -ENOTSUP) return false;
  if (n < 0) {
    /* a change of group alone lets no named entry in: check_acl says the
       ACL could not be read */
    if (!more) return false;
    pw_job_note_error(pw_worker_job(w), PW_OP_ACL_NAMED, (int)-n, e->path, e->len);
    return true;
  }
  bool named = false;
  unsigned group = 0, other = 0;
  for (ssize_t k = 4; k + 8 <= n; k += 8) {
    unsigned tag = v[k] | (unsigned)v[k + 1] << 8, perm = v[k + 2] | (unsigned)v[k + 3] << 8;
    uint32_t id = v[k + 4] | (uint32_t)v[k + 5] << 8 | (uint32_t)v[k + 6] << 16 |
                  (uint32_t)v[k + 7] << 24;
    /* (an entry naming the group the entry has after the change,
       group:PROJECT:r-- as a default ACL puts on new files, is the very
       group the rules open it to: no outsider) */
    if ((tag == 0x02 /* ACL_USER */ || (tag == 0x08 /* ACL_GROUP */ && id != p->ngid)) &&
        (perm & more))
      named = true;
    if (tag == 0x04 /* ACL_GROUP_OBJ */ || (tag == 0x08 && id == p->ngid)) group |= perm;
    if (tag == 0x20 /* ACL_OTHER */) other = perm;
  }
  if (named) {
    pw_job_note_error(pw_worker_job(w), PW_OP_ACL_NAMED, 0, e->path, e->len);
    return true;
  }
  /* what the new group's members get then: group:: (or their group's own
     entry) within the mask, the mode's group bits */
  if (regroup && (other & 7 & ~(group & (p->nmode >> 3) & 7))) {
    pw_job_note_error(pw_worker_job(w), PW_OP_ACL_OTHER, 0, e->path, e->len);
    return true;
  }
  return false;
#else
  (void)w, (void)e, (void)st, (void)p, (void)t;
  return false;
#endif
}

/* An entry with an access ACL: its mode's group bits are the ACL's mask,
   and the group's own entry (group::) may still keep the group out, which
   no chmod changes.  Said as a notice (PW_OP_ACL) when that entry lacks
   what the plan gives the group, or when the ACL cannot be read (with the
   errno: no way to tell).  One attribute read per changed entry, the ACL
   read whole (read_acl, through descriptors). */
static void check_acl(pw_worker *w, const pw_entry *e, const struct stat *st, const pw_change *p,
                      const pw_target *t) {
#ifdef __linux__
  if (S_ISLNK(st->st_mode)) return;
  /* what rule 3 gives the group (r, r-x for a folder; w too with
     --force-group-writable) and the new mode has: group bits the mode held
     before (a mask of rw- over group::r--) are its owner's, no lack of
     this run's */
  const repair_ctx *c = pw_job_ctx(pw_worker_job(w));
  unsigned gives = (S_ISDIR(st->st_mode) ? 5u : 4u) | (c->force_gw ? 2u : 0u);
  unsigned need = (p->nmode >> 3) & 7 & gives;
  if (!need) return;
  unsigned char *v;
  ssize_t n = entry_acl(&((repair_worker *)*pw_worker_state(w))->acl, e, t, &v);
  if (n == 0 || n == -ENODATA || n == -ENOTSUP) return; /* none */
  if (n < 0) {
    pw_job_note_error(pw_worker_job(w), PW_OP_ACL, (int)-n, e->path, e->len);
    return;
  }
  /* what the group's members get: group::, and an entry naming the group
     (group:PROJECT:r--, as a default ACL gives new files), within the mask */
  bool obj = false;
  unsigned has = 0;
  for (ssize_t k = 4; k + 8 <= n; k += 8) {
    unsigned tag = v[k] | (unsigned)v[k + 1] << 8, perm = v[k + 2] | (unsigned)v[k + 3] << 8;
    uint32_t id = v[k + 4] | (uint32_t)v[k + 5] << 8 | (uint32_t)v[k + 6] << 16 |
                  (uint32_t)v[k + 7] << 24;
    if (tag == 0x04 /* ACL_GROUP_OBJ */) obj = true;
    if (tag == 0x04 || (tag == 0x08 /* ACL_GROUP */ && id == p->ngid)) has |= perm;
  }
  if (obj && (has & need) != need)
    pw_job_note_error(pw_worker_job(w), PW_OP_ACL, 0, e->path, e->len);
#else
  (void)w, (void)e, (void)st, (void)p, (void)t;
#endif
}

/* An entry's change not made: its error, which for want of descriptors or
   memory fails the job (pw_worker_error): a run must not end as if whole
   with entries left unchanged for the tool's lack. */
static void change_error(pw_worker *w, const pw_entry *e, int op, int err) {
  pw_worker_error(w, op, err, e->path, e->len);
}

/* Whether a chown or chmod that failed with err is one the system
   refused, so that nothing of it was made: a permission (another user's
   entry without root, chattr +i, root squashed), a read-only mount, a
   quota, an id or mode the file system cannot hold, no way to change it.
   Not an error that may come after the change was made (EIO, ETIMEDOUT
   or EINTR of an NFS soft mount whose server did apply it, a FUSE
   server's): a mark then would say never made of a change that was, and
   undo would leave it; unmarked, undo judges it by the values the entry
   holds. */
static bool refused_whole(int err) {
  return err == EPERM || err == EACCES || err == EROFS || err == EDQUOT || err == EINVAL ||
         err == ENOTSUP || err == EOPNOTSUPP || err == ENOSYS;
}

/* The race notice of an entry whose owner or group (now: st) is no longer
   the one its change p was planned for: its mode `left`, not `planned`. */
static void owner_race(pw_worker *w, const pw_entry *e, const struct stat *st,
                       const pw_change *p, uint32_t left, uint32_t planned) {
  char text[256];
  snprintf(text, sizeof text, PW_OWNER_RACE_FMT, (unsigned)st->st_uid, (unsigned)st->st_gid,
           (unsigned)p->nuid, (unsigned)p->ngid, (unsigned)left, (unsigned)planned);
  pw_job_note_text(pw_worker_job(w), PW_OP_RACE, e->path, e->len, text);
}

/* Make the change p to the entry t holds (stat now); returns what really
   happened (the kernel may refuse parts of it).  *refused: the kernel
   refused it whole (its chown, or the chmod of a change of mode alone:
   refused_whole): nothing of p was made. */
static pw_change apply_change(pw_worker *w, const pw_entry *e, const pw_target *t,
                              const struct stat *now, const pw_change *p, bool *refused) {
  repair_ctx *c = pw_job_ctx(pw_worker_job(w));
  pw_change got = *p;
  got.nuid = p->ouid;
  got.ngid = p->ogid;
  got.nmode = p->omode;
  bool owner = p->nuid != p->ouid || p->ngid != p->ogid;
  if (owner) {
    /* The owner and group planned from were read before this run's
       journal line was written: another run, an undo of one, an admin's
       chown or the owner's chgrp may have changed them since.  The chown
       would overwrite that change (and its line names as old values ones
       the entry no longer has, which undo would put back).  Looked at
       just before it: left as it is then, nothing of p made, a race
       (marked in the journal as a refused change). */
    struct stat pre;
    if (pw_target_stat(t, &pre) == 0 && (pre.st_uid != p->ouid || pre.st_gid != p->ogid)) {
      char text[320];
      snprintf(text, sizeof text, PW_CHOWN_RACE_FMT, (unsigned)pre.st_uid,
               (unsigned)pre.st_gid, (unsigned)p->ouid, (unsigned)p->ogid, (unsigned)p->nuid,
               (unsigned)p->ngid, (unsigned)p->nmode);
      pw_job_note_text(pw_worker_job(w), PW_OP_RACE, e->path, e->len, text);
      *refused = true;
      return got;
    }
    /* A group named is given though the file has it (chown's --chown_to
       UID:GID of a file of that group): -1 would let a chgrp between that
       look and the chown (the old owner's, to a group of theirs) stand on
       the file given away, while its line and the journal name the group
       named.  (-1 when no group is named: the group left as it is.) */
    bool named = p->ngid != p->ogid || (c->chown_mode && c->to_gid >= 0);
    int rc = pw_target_chown(t, p->nuid != p->ouid ? p->nuid : (uid_t)-1,
                             named ? p->ngid : (gid_t)-1);
    if (rc) {
      /* Refused: the mode stays too.  The group bits it adds were meant
         for the new group (a private file would open to its old, private
         group), setgid on a folder would hand that group down. */
      change_error(w, e, PW_OP_CHOWN, -rc);
      *refused = refused_whole(-rc);
      return got;
    }
    got.nuid = p->nuid;
    got.ngid = p->ngid;
  }
  /* chown may clear setuid/setgid: set the planned mode after it.  Links
     have no mode of their own to set. */
  if (S_ISLNK(now->st_mode)) return got;
  if (!(p->nmode != p->omode || (owner && (p->omode & (S_ISUID | S_ISGID)) && !c->chown_mode))) {
    /* chown's plan kept a setgid bit (no group execute) that the kernel
       may still have cleared (Linux 6.2 on: a caller without CAP_FSETID
       outside the file's group): tell the mode it left */
    struct stat left;
    if (owner && (p->omode & (S_ISUID | S_ISGID)) && pw_target_stat(t, &left) == 0)
      got.nmode = left.st_mode & 07777;
    return got;
  }
  /* The mode planned gives the planned group its access.  Another run, an
     undo of one putting an old group back (a file of `users`, every user's
     group, to 0600), a chown run or the owner's chgrp may have given the
     entry another owner or group since the plan (this run's journal line
     and chown take that long): the chmod would give that group what was
     meant for the planned one (that file `users` 0660).  Looked at just
     before it: left as it is then, a race, when the chmod would add a bit
     (one that only takes bits off, as chown's of setuid, opens nothing);
     nothing of p made when it changed no owner (marked so in the journal,
     as a refused change). */
  struct stat pre;
  int prc = pw_target_stat(t, &pre);
  uint32_t added = prc == 0 ? p->nmode & ~(uint32_t)(pre.st_mode & 07777) : 0;
  if (added && (pre.st_uid != got.nuid || pre.st_gid != got.ngid)) {
    owner_race(w, e, &pre, &got, pre.st_mode & 07777, p->nmode);
    *refused = !owner;
    if (owner) got.nmode = pre.st_mode & 07777;
    return got;
  }
  int rc = pw_target_chmod(t, p->nmode);
  if (rc) {
    change_error(w, e, PW_OP_CHMOD, -rc);
    *refused = !owner && refused_whole(-rc);
    /* the chown may have cleared setuid/setgid: tell the mode left */
    struct stat left;
    if (pw_target_stat(t, &left) == 0) got.nmode = left.st_mode & 07777;
    return got;
  }
  /* Without CAP_FSETID the kernel drops a setgid bit silently (the caller
     is not in the group): report what really happened.  Any other
     difference is not the kernel's rule: someone (the owner) changed the
     mode between the chmod and this read-back, or the file system took
     the chmod without keeping the mode (vfat "quiet", CIFS without Unix
     extensions); the message names both. */
  struct stat chk;
  uint32_t cm;
  int crc = pw_target_chmod_readback(t, p->nmode, added, got.nuid, got.ngid, &chk);
  if (crc == 1) {
    /* ... or between that look and the chmod: the bits the chmod added
       taken off again */
    cm = chk.st_mode & 07777;
    owner_race(w, e, &chk, &got, cm, p->nmode);
    got.nmode = cm;
  } else if (crc == 0 && (cm = chk.st_mode & 07777) != p->nmode) {
    if ((p->nmode & S_ISGID) && cm == (p->nmode & ~(uint32_t)S_ISGID)) {
      change_error(w, e, PW_OP_CHMOD, EPERM);
    } else {
      char text[160];
      snprintf(text, sizeof text, PW_MODE_RACE_FMT, (unsigned)cm, (unsigned)p->nmode);
      pw_job_note_text(pw_worker_job(w), PW_OP_RACE, e->path, e->len, text);
    }
    got.nmode = cm;
  } else {
    got.nmode = p->nmode;
  }
  return got;
}

/* A group as the change lines show it: "5000 (genome)", or "5000". */
static int group_shown(repair_worker *r, char *b, size_t cap, uint32_t gid) {
  const char *name = pw_group_name(&r->names, gid);
  return name ? snprintf(b, cap, "%u (%s)", gid, name) : snprintf(b, cap, "%u", gid);
}

/* The links notice of e, a name of a file with other hard links whose
   folder (nearest shared group here, 0: none) wants another group than
   the one it takes (took), that of its name reached first (first, when its
   path is known: NULL else).  The file is changed (and listed) through
   the last of its names reached, which may be e: the notice names the
   group it takes and the name that decided it, not "not changed here". */
static void note_links(pw_job *j, repair_worker *r, const pw_entry *e, uint32_t took,
                       uint32_t here, const char *first) {
  char tg[PW_NAME_MAX + 32], hg[PW_NAME_MAX + 32];
  group_shown(r, tg, sizeof tg, took);
  if (here) group_shown(r, hg, sizeof hg, here);
  size_t fl = first ? strlen(first) : 0;
  char *shown = first ? malloc(4 * fl + 1) : NULL;
  if (shown) shown[pw_escape_path(shown, first, fl)] = 0;
  size_t cap = 4 * fl + sizeof tg + sizeof hg + 256;
  char *text = malloc(cap);
  if (!text) {
    free(shown);
    pw_job_note_error(j, PW_OP_LINKS, 0, e->path, e->len); /* the op's own text */
    return;
  }
  int n = snprintf(text, cap,
                   "a file with hard links in folders of different shared groups: it takes group "
                   "%s, that of the folder above its name reached first%s%s%s, ",
                   tg, shown ? " (" : "", shown ? shown : "", shown ? ")" : "");
  if (here) snprintf(text + n, cap - (size_t)n, "not this name's folder's group %s", hg);
  else snprintf(text + n, cap - (size_t)n, "where no folder above this name has a shared group");
  pw_job_note_text(j, PW_OP_LINKS, e->path, e->len, text);
  free(text);
  free(shown);
}

static void rp_entry(pw_worker *w, const pw_entry *e) {
  pw_job *j = pw_worker_job(w);
  repair_ctx *c = pw_job_ctx(j);
  repair_worker *r = *pw_worker_state(w);
#ifdef __linux__
  forget_acl(&r->acl, false); /* the last entry's */
#endif
  if (e->subdir_ref || e->raced) return; /* raced: the engine reported it */
  const struct stat *st = e->st;
  bool root_row = e->is_dir_row && e->depth < 0;
  /* The root itself reached again (a bind mount inside the tree; the
     walker did not enter it, and said so: root_once): never changed by
     repair, and chown changed it at its own row.  Nor a folder guarded
     (above the root, the journal's: pw_job_guard), never changed. */
  if (!e->is_dir_row && S_ISDIR(st->st_mode)) {
    const struct stat *rst = pw_job_root_stat(j);
    if (st->st_ino == rst->st_ino && st->st_dev == rst->st_dev) return;
    if (pw_job_guarded(j, st)) return;
  }
  if (c->chown_mode) {
    if ((int64_t)st->st_uid != c->from) return;
  } else if (root_row || S_ISLNK(st->st_mode)) {
    return; /* spec: the root is not changed; links never are */
  }
  /* three change lines of the escaped path, two group names each */
  if (!buf_reserve(r, pw_journal_bound(e->len) * 4 + 4 * PW_NAME_MAX + 1024)) {
    pw_job_fail(j, ENOMEM, "out of memory");
    return;
  }
  pw_change p;
  bool noancestor;
  plan(w, st, e->user, &p, &noancestor);
  /* A device node: a new group or group access to it is access to the
     device itself (a disk or memory node copied into a project, a chroot,
     a container image), outside ROOT in effect.  Repair leaves it alone,
     and says so; chown, asked for by owner, goes on. */
  if (!c->chown_mode && (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))) {
    if (noancestor) note_no_ancestor(w);
    if (!pw_change_empty(&p) && tells_once(c, st))
      pw_job_note_error(j, PW_OP_DEVICE, 0, e->path, e->len);
    return;
  }
  bool linked = pw_hard_linked(st); /* any type but a folder: a FIFO or socket too */
  /* A file with other hard links on overlayfs: a change copies up the one
     name it is made through, to a new file of the upper layer (without
     index=on, the kernel's default), parting it from its other names,
     which keep the old owner and mode; undo then finds another inode at
     that name.  Left alone, told at each name, dry run and --apply alike
     (one fstatfs per listing). */
  if (linked && !pw_change_empty(&p) && on_overlayfs(r, e, st, NULL)) {
    if (noancestor) note_no_ancestor(w);
    pw_job_note_error(j, PW_OP_OVERLAY_LINKS, 0, e->path, e->len);
    return;
  }
  /* Rules 6 and 9: a file with other hard links is counted at each of its
     names and changed through the last, as its first name planned.  A
     name whose own plan changes nothing counts too when the file's group
     is private: another name's folder may want another group (else every
     name plans the same: the plan of a shared group's file does not
     depend on the folder). */
  bool counted = linked && !c->chown_mode &&
                 (!pw_change_empty(&p) || is_private(pw_job_opts(j), st->st_uid, st->st_gid));
  /* a dry run looks now (an apply, below, through the entry's
     descriptor); at a counted file's names, once its plan is known; a
     chown's file with other names, at the first name reached (below), the
     one --apply changes it through: its notice told once, as --apply's */
  bool chown_linked = linked && c->chown_mode && !pw_change_empty(&p);
  if (!c->apply && !counted && !chown_linked && !pw_change_empty(&p) &&
      loses_caps(w, e, st, &p, NULL))
    return;
  if (!c->apply && !counted && !c->chown_mode && !pw_change_empty(&p) &&
      widens_acl(w, e, st, &p, NULL)) {
    if (noancestor) note_no_ancestor(w);
    return;
  }
  uint32_t first_gid = LINK_LEFT, seen = 0;
  bool first_none = false; /* left alone: no shared group above its first name */
  if (counted) {
    /* Rule 9: changed once every name of it has been reached in the tree,
       through the last one reached; till then only counted (a name
       elsewhere: never changed, told when the walk ends) */
    char *first_path;
    int k = count_link(c, st, e, (uint32_t)e->user, !pw_change_empty(&p), &first_gid,
                       &first_path);
    if (k < 0) {
      free(first_path);
      pw_job_fail(j, ENOMEM, "out of memory");
      return;
    }
    if (first_gid != LINK_LEFT) {
      /* Rule 6: the file's plan is its first name's, rule 4 decided
         against the group it then gets (setuid and setgid go with a new
         group, stay without one); two shared groups claiming it: this
         name's is told */
      uint32_t own = p.ngid;
      plan_repair(j, st, first_gid, &p, &noancestor);
      /* (no shared group above the first name: the file is left alone,
         and the notice says so, not that it takes that name's group).  A
         name whose folder wants another group than the first name's is
         told though the file's group stays: a shared group against none
         (the file's own group shared above one name, none above the
         other: opened by one, left private by the other) */
      bool other = p.ngid != own || first_gid != (uint32_t)e->user;
      /* (a file of a shared group keeps it whatever folder its names are
         in: every name plans the same, and nothing is to be told; only a
         private group's file takes a folder's group) */
      if (!is_private(pw_job_opts(j), st->st_uid, st->st_gid)) other = false;
      if (other && noancestor)
        pw_job_note_error(j, PW_OP_LINKS_LEFT, 0, e->path, e->len);
      else if (other)
        note_links(j, r, e, p.ngid, (uint32_t)e->user, first_path);
    }
    free(first_path);
    /* left alone for want of a shared group above its first name: told
       (and counted) at each name, dry run and --apply alike */
    if (noancestor) note_no_ancestor(w);
    first_none = noancestor;
    noancestor = false;
    /* the notices of the file's plan (capabilities, an ACL naming users
       or groups) are told once per file, at its last name, dry run and
       --apply alike (with --apply through its descriptor, below), where it
       is left alone for them: told at each name, one file read as several
       in the notices and their count.  A file whose last name is never
       reached is left alone anyway, the hardlinks notice says why. */
    if (k == 0) return;
    seen = (uint32_t)st->st_nlink;
    /* a dry run: left alone as --apply will leave it */
    if (!c->apply && !pw_change_empty(&p) &&
        (loses_caps(w, e, st, &p, NULL) || widens_acl(w, e, st, &p, NULL))) {
      mark_link_left(c, st);
      return;
    }
  } else if (chown_linked) {
    /* chown: through the first name reached */
    if (!first_link(c, st, p.ngid, &first_gid) && first_gid != LINK_LEFT) return;
    if (!c->apply && loses_caps(w, e, st, &p, NULL)) return;
  } else if (linked && !c->chown_mode && e->user && !root_row && seen_link(c, st, &first_gid) &&
             first_gid != LINK_LEFT && st->st_gid == first_gid &&
             st->st_gid != (uint32_t)e->user) {
    /* nothing to do here because another name already gave the file the
       group of its first name's folder (--apply), where this one's wants
       another (a file that has a shared group of its own, or whose first
       name had none above it, was given none: nothing to tell) */
    note_links(j, r, e, first_gid, (uint32_t)e->user, NULL);
  }
  if (!c->apply || pw_change_empty(&p)) {
    /* A dry run, or nothing to do by the listing: no fd needed. */
    if (noancestor) note_no_ancestor(w);
    else if (!first_none && setid_kept(c, st, &p) && (counted || tells_once(c, st)))
      pw_job_note_error(j, PW_OP_SETID, 0, e->path, e->len);
    if (!pw_change_empty(&p) && journal(w, r, e, st, &p, NULL)) {
      report_done(w, r, e, st, &p);
      if (!c->chown_mode) check_acl(w, e, st, &p, NULL);
    }
    return;
  }
  /* Apply: examine the entry again through an fd that cannot lead
     elsewhere, and plan from what that fd shows now. */
  pw_target t;
  struct stat now;
  int rc = pw_target_entry(e, &t, &now);
  /* Out of descriptors (the process's limit, or the system's): others
     come free as workers finish their folders; waited for, 10 s in all,
     as a folder's open is, then change_error fails the job. */
  for (long waited = 0; rc < 0 && pw_job_wait_fd(j, -rc, &waited);) {
    pw_target_close(&t);
    rc = pw_target_entry(e, &t, &now);
  }
  if (rc) {
    if (rc == -ESTALE) change_error(w, e, PW_OP_RACE, ESTALE);
    else if (rc < 0) change_error(w, e, rc == -ENOENT ? PW_OP_STAT : PW_OP_CHANGE, -rc);
  } else if (!c->chown_mode || (int64_t)now.st_uid == c->from) { /* not given away meanwhile */
    /* a counted file's last name: its first name's plan (rule 6), a
       lack of a shared group above that told when counted */
    plan(w, &now, seen && first_gid != LINK_LEFT ? first_gid : e->user, &p, &noancestor);
    if (noancestor && !seen) note_no_ancestor(w);
    /* the setid notice told only where the file is not then left alone
       for its hard links, capabilities or ACL (below), as a dry run tells
       it: it says a change was made without its group write */
    bool setid = !noancestor && setid_kept(c, &now, &p);
    if (!c->chown_mode && pw_hard_linked(&now) && now.st_nlink > seen &&
        !pw_change_empty(&p)) {
      pw_job_note_error(j, PW_OP_HARDLINKS, 0, e->path, e->len); /* linked meanwhile */
    } else if (seen && !pw_change_empty(&p) &&
               (!names_settled(c, &now) || now.PW_CTIM.tv_sec != st->PW_CTIM.tv_sec ||
                now.PW_CTIM.tv_nsec != st->PW_CTIM.tv_nsec)) {
      /* its names changed since they were counted (or may have): as a
         name moved during the walk (count_link), left alone, told */
      pw_job_note_error(j, PW_OP_HARDLINKS, 0, e->path, e->len);
    } else if (!pw_change_empty(&p) && loses_caps(w, e, &now, &p, &t)) {
      if (pw_hard_linked(&now)) mark_link_left(c, &now);
    } else if (!c->chown_mode && !pw_change_empty(&p) && widens_acl(w, e, &now, &p, &t)) {
      if (pw_hard_linked(&now)) mark_link_left(c, &now);
    } else if (!pw_change_empty(&p)) {
      if (setid) pw_job_note_error(j, PW_OP_SETID, 0, e->path, e->len);
      if (journal(w, r, e, &now, &p, &t)) {
        bool refused = false;
        pw_change got = apply_change(w, e, &t, &now, &p, &refused);
        if (refused) {
          /* Its line, written before, says the change was made: the line
             after it, NEW as OLD, says it was not, so that undo never puts
             back what this run did not change (an owner's own chgrp since,
             say, to the values this run was refused). */
          pw_change none = p;
          none.nuid = p.ouid;
          none.ngid = p.ogid;
          none.nmode = p.omode;
          journal(w, r, e, &now, &none, NULL);
        }
#ifdef __linux__
        forget_acl(&r->acl, true);
#endif
        if (!pw_change_empty(&got)) {
          report_done(w, r, e, &now, &got);
          if (!c->chown_mode) check_acl(w, e, &now, &got, &t);
        }
      }
    } else if (setid) {
      pw_job_note_error(j, PW_OP_SETID, 0, e->path, e->len);
    }
  }
  pw_target_close(&t);
}

/* ---- the job --------------------------------------------------------------- */

#ifdef __linux__
/* Whether this thread has CAP_FSETID in effect (the kernel's test for
   keeping setuid/setgid through a chown; root run without capabilities
   has it not). */
static bool has_fsetid(void) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  if (syscall(SYS_capget, &h, d)) return geteuid() == 0;
  return (d[0].effective & (1u << CAP_FSETID)) != 0;
}
#endif

static int rp_worker_start(pw_worker *w) {
  repair_worker *r = calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  if (!buf_reserve(r, 8192)) {
    free(r);
    return -ENOMEM;
  }
  r->acl.v = r->acl.b;
  *pw_worker_state(w) = r;
  repair_ctx *c = pw_job_ctx(pw_worker_job(w));
  if (c->records) pw_channel_add_writer(c->records); /* the batch it fills */
  return 0;
}

static void rp_worker_end(pw_worker *w) {
  repair_ctx *c = pw_job_ctx(pw_worker_job(w));
  repair_worker *r = *pw_worker_state(w);
  if (c->records && r) pw_channel_release(c->records, &r->batch, true);
}

static void rp_worker_free(pw_worker *w) {
  repair_worker *r = *pw_worker_state(w);
  if (!r) return;
  pw_names_free(&r->names);
#ifdef __linux__
  forget_acl(&r->acl, false);
#endif
  free(r->buf);
  free(r);
  *pw_worker_state(w) = NULL;
}

static void rp_workers_done(pw_job *j) {
  repair_ctx *c = pw_job_ctx(j);
  /* hard-linked files with names the walk did not reach: left alone */
  if (!pw_job_stopping(j)) {
    for (size_t i = 0; i < c->links_cap; i++) {
      struct link_slot *l = &c->links[i];
      if (l->used && !l->done && l->change && l->wait)
        pw_job_note_error(j, PW_OP_HARDLINKS, 0, l->wait->path, l->wait->len);
    }
  }
  if (c->records) pw_channel_close(c->records);
}

static void rp_cancel(pw_job *j) {
  repair_ctx *c = pw_job_ctx(j);
  if (!c) return;
  atomic_store(&c->stop, true);
  if (c->records) pw_channel_cancel(c->records);
}

static int32_t rp_next(pw_job *j, uint64_t *out) {
  repair_ctx *c = pw_job_ctx(j);
  return c && c->records ? pw_channel_next(c->records, out) : 0;
}

static bool rp_held_back(pw_job *j) {
  repair_ctx *c = pw_job_ctx(j);
  return c && c->records && pw_channel_held_back(c->records);
}

/* Every worker ended: the journal's syncer too (a sync of its that failed
   fails the run: the lines may not be on the disk); the caller's close
   fsyncs the journal. */
static void rp_job_end(pw_job *j, int status) {
  (void)status;
  repair_ctx *c = pw_job_ctx(j);
  if (!c) return;
  int err = pw_journal_syncer_stop(&c->syncer);
  if (err) pw_job_fail(j, -err, "cannot write the journal: %s", strerror(-err));
}

static void rp_job_free(pw_job *j) {
  repair_ctx *c = pw_job_ctx(j);
  if (!c) return;
  (void)pw_journal_syncer_stop(&c->syncer);
  pw_channel_free(c->records);
  pthread_mutex_destroy(&c->links_mu);
  for (size_t i = 0; i < c->links_cap; i++) free_wait(c->links[i].wait);
  free(c->links);
  free(c->groups);
  if (c->own_changes_fd >= 0) close(c->own_changes_fd);
  free(c);
  pw_job_set_ctx(j, NULL);
}

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

#ifdef O_PATH
#define PW_O_LOOKUP O_PATH
#else
#define PW_O_LOOKUP O_RDONLY
#endif

/* The folder at path guarded, unless it is the root (real: its real
   path) or a folder below it by that path: a journal or errors file there
   (ROOT /, --force; --errors /dev/stderr redirected into the tree) is left
   out itself, its folder repaired as any other. */
static void guard_path(pw_job *j, const char *path, const char *real) {
  size_t rl = strlen(real);
  if (!strcmp(real, "/") ||
      (!strncmp(path, real, rl) && (path[rl] == '\0' || path[rl] == '/')))
    return;
  struct stat st;
  if (!stat(path, &st) && S_ISDIR(st.st_mode)) pw_job_guard(j, &st);
}

/* The folder of the file open as fd, as the kernel names it (Linux's
   /proc/self/fd), guarded (guard_path); nothing when it cannot tell (no
   /proc, a pipe, a file with no name left). */
static void guard_folder_of(pw_job *j, int fd, const char *real) {
#ifdef __linux__
  char proc[32], path[PATH_MAX + 1];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(proc, path, PATH_MAX);
  if (n <= 0 || path[0] != '/') return;
  path[n] = '\0';
  char *slash = strrchr(path, '/');
  if (slash == path) slash[1] = '\0';
  else *slash = '\0';
  guard_path(j, path, real);
#else
  (void)j;
  (void)fd;
  (void)real;
#endif
}

/* The folders a repair or chown never changes, wherever a mount inside
   the tree shows them (a bind mount of the root's parent, of an admin's
   state folder): every folder above the root (its real path, `..` by `..`
   up to /, across mounts), and the folders of the journal and the errors
   file (by PW_OPT_GUARD_PATH, and by their descriptors where /proc tells
   their paths).  The walker does not enter them, and tells each
   (root_once). */
static void guard_folders(pw_job *j, const char *real, int journal_fd, int errors_fd) {
  const pw_opts *o = pw_job_opts(j);
  for (size_t i = 0; i < o->guard_paths.n; i++) guard_path(j, o->guard_paths.items[i], real);
  int fd = open(real, PW_O_LOOKUP | O_DIRECTORY | O_CLOEXEC);
  struct stat here, up;
  if (fd >= 0 && !fstat(fd, &here)) {
    for (;;) {
      int ufd = openat(fd, "..", PW_O_LOOKUP | O_DIRECTORY | O_CLOEXEC);
      if (ufd < 0) break;
      close(fd);
      fd = ufd;
      if (fstat(fd, &up) || (up.st_dev == here.st_dev && up.st_ino == here.st_ino)) break;
      pw_job_guard(j, &up);
      here = up;
    }
  }
  if (fd >= 0) close(fd);
  if (journal_fd >= 0) guard_folder_of(j, journal_fd, real);
  if (errors_fd >= 0) guard_folder_of(j, errors_fd, real);
}

static int repair_init(pw_job *j, void *arg) {
  (void)arg;
  const struct pw_opts *o = pw_job_opts(j);
  bool chown_mode = o->chown_from >= 0;
  if (o->hold) { /* nothing would answer pw_walk_descend: it would hang */
    pw_job_fail(j, EINVAL, "PW_OPT_HOLD is for walk jobs");
    return -EINVAL;
  }
  /* Walk-only options: following links would change what they lead to,
     outside ROOT; without a stat the plan would be made of zeros. */
  if (o->follow || o->no_stat || o->link_dirs) {
    pw_job_fail(j, EINVAL, "PW_OPT_FOLLOW, PW_OPT_NO_STAT and PW_OPT_LINK_DIRS are for walk jobs");
    return -EINVAL;
  }
  if (chown_mode && o->chown_uid < 0) {
    pw_job_fail(j, EINVAL, "chown needs a new owner (PW_OPT_CHOWN_UID)");
    return -EINVAL;
  }
  if (o->apply && !pw_can_chmod_opath()) {
    /* refused before the first change, not an error per entry after its chown */
    pw_job_fail(j, ENOSYS,
                "cannot change modes safely here: /proc is not mounted (procfs) and the kernel has no "
                "fchmodat2 (Linux 6.6): mount /proc");
    return -ENOSYS;
  }
  /* the run's start, before the walk: a hard-linked file's ctime older
     than its second proves its names did not change during the run.
     On Linux it is read from the coarse clock, the one file systems stamp
     ctimes from (current_time(), ktime_get_coarse_real_ts64): that clock
     runs up to a tick behind CLOCK_REALTIME, so just after a second
     begins, CLOCK_REALTIME's second can be one ahead of the ctime a link
     made after it gets (measured on ext4: a ctime of .998 s after a start
     of .000000009 s in the next second), and that change would look older
     than the run.  Every timestamp taken later, coarse or fine (multigrain
     ctimes, Linux 6.13), is at or after the coarse clock's now.  On a
     Linux without it (before 2.6.32), CLOCK_REALTIME a second early (only
     stricter); elsewhere CLOCK_REALTIME, as before. */
  struct timespec start;
#if defined(__linux__) && defined(CLOCK_REALTIME_COARSE)
  if (clock_gettime(CLOCK_REALTIME_COARSE, &start) != 0)
#endif
  {
    clock_gettime(CLOCK_REALTIME, &start);
#if defined(__linux__) && defined(CLOCK_REALTIME_COARSE)
    start.tv_sec--;
#endif
  }
  repair_ctx *c = calloc(1, sizeof *c);
  if (!c) goto oom;
  pw_job_set_ctx(j, c);
  *c = (repair_ctx){.chown_mode = chown_mode, .apply = o->apply, .force_gw = o->force_gw,
                    .from = o->chown_from, .to_uid = o->chown_uid, .to_gid = o->chown_gid,
                    .ngroups = -1, .journal_fd = o->journal_fd, .changes_fd = o->changes_fd,
                    .own_changes_fd = -1, .changes_stdout = o->changes_fd == 1,
                    .start_sec = (int64_t)start.tv_sec};
  atomic_init(&c->ancestor_reported, false);
  atomic_init(&c->lines_off, false);
  /* the change lines to a pipe (stdout read by a pager that stopped
     reading): written so that a cancel still reaches a waiting writer */
  c->own_changes_fd = c->changes_fd >= 0 ? pw_reopen_nonblocking(c->changes_fd) : -1;
  if (c->own_changes_fd >= 0) c->changes_fd = c->own_changes_fd;
#ifdef __linux__
  if (chown_mode && !has_fsetid()) {
    int n = getgroups(0, NULL);
    c->groups = malloc(((size_t)(n > 0 ? n : 0) + 1) * sizeof *c->groups);
    if (!c->groups) goto oom;
    c->groups[0] = getegid();
    n = n > 0 ? getgroups(n, c->groups + 1) : 0;
    c->ngroups = 1 + (n > 0 ? n : 0);
  }
#endif
  pthread_mutex_init(&c->links_mu, NULL);
  struct stat jst; /* the journal inside the tree is never changed */
  if (c->journal_fd >= 0 && fstat(c->journal_fd, &jst) == 0) pw_job_skip_file(j, &jst);
  if (o->records) {
    c->records = pw_channel_new(pw_job_threads(j) + 4, 4, 64 * 1024);
    if (!c->records) goto oom;
  }
  const char *root = pw_job_root(j, &c->root_len);
  c->rel_off = c->root_len == 1 && root[0] == '/' ? 1 : c->root_len + 1;
  /* The root's real path: the caller's, which the job checked is this
     very folder (PW_OPT_ROOT_REAL), else looked up now. */
  char *real = o->root_real ? strdup(o->root_real) : realpath(o->root, NULL);
  if (!real) {
    int e = errno;
    pw_job_fail(j, e, "%s: %s", o->root, strerror(e));
    return -e;
  }
  const struct stat *rst = pw_job_root_stat(j);
  if (!chown_mode) pw_job_set_root_user(j, root_group(o, real, rst));
  int err = c->journal_fd >= 0 ? pw_journal_header(c->journal_fd, chown_mode ? "chown" : "repair",
                                                   c->apply, rst, real)
                               : 0;
  guard_folders(j, real, c->journal_fd, o->errors_csv_fd);
  free(real);
  if (err) pw_job_fail(j, -err, "cannot write the journal: %s", strerror(-err));
  /* no thread: the lines are synced by later lines and at the end, as before */
  else if (c->journal_fd >= 0) (void)pw_journal_syncer_start(&c->syncer, c->journal_fd);
  return err;
oom:
  pw_job_fail(j, ENOMEM, "out of memory");
  return -ENOMEM;
}

static const pw_visitor repair_visitor = {
    .job_init = repair_init,
    .worker_start = rp_worker_start,
    .entry = rp_entry,
    .child_user = rp_child_user,
    .worker_end = rp_worker_end,
    .worker_free = rp_worker_free,
    .workers_done = rp_workers_done,
    .cancel = rp_cancel,
    .job_end = rp_job_end,
    .next = rp_next,
    .held_back = rp_held_back,
    .job_free = rp_job_free,
    .share_listings = true,
    .root_once = true,
};

PW_API pw_job *pw_repair_start(const pw_opts *o) {
  return pw_job_start(o, &repair_visitor, NULL);
}
