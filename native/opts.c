/* opts.c — see opts.h. */
#include "opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pwalk.h"

PW_API const char *pw_version(void) { return PW_VERSION; }

PW_API pw_opts *pw_opts_new(void) {
  pw_opts *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  o->output_fd = -1;
  o->error_fd = -1;
  o->max_errors = 100;
  o->leaf_depth = INT64_MAX; /* off */
  o->chown_from = -1;
  o->chown_uid = -1;
  o->chown_gid = -1;
  o->journal_fd = -1;
  o->changes_fd = -1;
  o->errors_csv_fd = -1;
  return o;
}

static void strlist_free(pw_strlist *l) {
  for (size_t i = 0; i < l->n; i++) free(l->items[i]);
  free(l->items);
  free(l->lens);
  memset(l, 0, sizeof *l);
}

/* Append p (taken over) to l; -ENOMEM leaves p to the caller. */
static int strlist_add(pw_strlist *l, char *p, size_t len) {
  char **e = realloc(l->items, (l->n + 1) * sizeof *e);
  if (!e) return -ENOMEM;
  l->items = e;
  size_t *n = realloc(l->lens, (l->n + 1) * sizeof *n);
  if (!n) return -ENOMEM;
  l->lens = n;
  e[l->n] = p;
  n[l->n++] = len;
  return 0;
}

PW_API void pw_opts_free(pw_opts *o) {
  if (!o) return;
  strlist_free(&o->excludes);
  strlist_free(&o->frontier);
  strlist_free(&o->skip_paths);
  strlist_free(&o->guard_paths);
  free(o->change_gids);
  free(o->dev_from);
  free(o->dev_to);
  free(o->root);
  free(o->root_real);
  free(o->output);
  free(o);
}

/* PW_OPT_DEV_MAP: "FROM TO" added to the table (one-to-one both ways). */
static int dev_map_add(pw_opts *o, const char *s) {
  char *end;
  uint64_t v[2];
  for (int k = 0; k < 2; k++) {
    if (*s < '0' || *s > '9') return -EINVAL;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno || *end != (k ? '\0' : ' ')) return -EINVAL;
    v[k] = (uint64_t)n;
    s = end + 1;
  }
  for (size_t i = 0; i < o->n_dev_map; i++)
    if (o->dev_from[i] == v[0] || o->dev_to[i] == v[1]) return -EINVAL;
  uint64_t *f = realloc(o->dev_from, (o->n_dev_map + 1) * sizeof *f);
  if (!f) return -ENOMEM;
  o->dev_from = f;
  uint64_t *t = realloc(o->dev_to, (o->n_dev_map + 1) * sizeof *t);
  if (!t) return -ENOMEM;
  o->dev_to = t;
  f[o->n_dev_map] = v[0];
  t[o->n_dev_map++] = v[1];
  return 0;
}

static char *dup_bytes(const uint8_t *s, size_t len) {
  char *p = malloc(len + 1);
  if (!p) return NULL;
  if (len) memcpy(p, s, len);
  p[len] = 0;
  return p;
}

PW_API int32_t pw_opts_set_int(pw_opts *o, int32_t key, int64_t v) {
  switch (key) {
    case PW_OPT_THREADS:
      if (v < 0 || v > 1024) return -EINVAL;
      o->threads = (int)v;
      return 0;
    case PW_OPT_HEADER: o->header = v != 0; return 0;
    case PW_OPT_NOSNAP: o->nosnap = v != 0; return 0;
    case PW_OPT_MAXDEPTH:
      if (v < 0) return -EINVAL;
      o->maxdepth = v;
      return 0;
    case PW_OPT_ONE_FS: o->one_fs = v != 0; return 0;
    case PW_OPT_LEAF_DEPTH:
      if (v < -1 || v > INT32_MAX) return -EINVAL;
      o->leaf_depth = v;
      return 0;
    case PW_OPT_LEVEL:
      if (v < 0 || v > 19) return -EINVAL;
      o->level = (int)v;
      return 0;
    case PW_OPT_COMPRESS:
      if (v < PW_COMPRESS_NONE || v > PW_COMPRESS_PARQUET) return -EINVAL;
      o->compress = (int)v;
      return 0;
    case PW_OPT_OUTPUT_FD:
      if (v < -1 || v > INT32_MAX) return -EINVAL;
      o->output_fd = (int)v;
      return 0;
    case PW_OPT_ERROR_FD:
      if (v < -1 || v > INT32_MAX) return -EINVAL;
      o->error_fd = (int)v;
      return 0;
    case PW_OPT_MAX_ERRORS:
      if (v < 0 || v > 1000000) return -EINVAL;
      o->max_errors = (uint32_t)v;
      return 0;
    case PW_OPT_FOLLOW: o->follow = v != 0; return 0;
    case PW_OPT_BATCH_BYTES:
      if (v < 4096 || v > (64 << 20)) return -EINVAL;
      o->batch_bytes = (uint32_t)v;
      return 0;
    case PW_OPT_BATCHES:
      if (v < 1 || v > 1024) return -EINVAL;
      o->batches = (uint32_t)v;
      return 0;
    case PW_OPT_APPLY: o->apply = v != 0; return 0;
    case PW_OPT_FORCE_GW: o->force_gw = v != 0; return 0;
    case PW_OPT_CHOWN_FROM:
    case PW_OPT_CHOWN_UID:
    case PW_OPT_CHOWN_GID:
      if (v < -1 || v > UINT32_MAX - 1) return -EINVAL;
      if (key == PW_OPT_CHOWN_FROM) o->chown_from = v;
      else if (key == PW_OPT_CHOWN_UID) o->chown_uid = v;
      else o->chown_gid = v;
      return 0;
    case PW_OPT_CHANGE_GID: {
      if (v < 0 || v > UINT32_MAX - 1) return -EINVAL;
      int64_t *g = realloc(o->change_gids, (o->n_change_gids + 1) * sizeof *g);
      if (!g) return -ENOMEM;
      g[o->n_change_gids++] = v;
      o->change_gids = g;
      return 0;
    }
    case PW_OPT_JOURNAL_FD:
    case PW_OPT_CHANGES_FD:
      if (v < -1 || v > INT32_MAX) return -EINVAL;
      if (key == PW_OPT_JOURNAL_FD) o->journal_fd = (int)v;
      else o->changes_fd = (int)v;
      return 0;
    case PW_OPT_ERRORS_CSV_FD:
      if (v < -1 || v > INT32_MAX) return -EINVAL;
      o->errors_csv_fd = (int)v;
      return 0;
    case PW_OPT_RECORDS: o->records = v != 0; return 0;
    case PW_OPT_HOLD: o->hold = v != 0; return 0;
    case PW_OPT_NO_STAT: o->no_stat = v != 0; return 0;
    case PW_OPT_LINK_DIRS: o->link_dirs = v != 0; return 0;
    case PW_OPT_SUBDIRS: o->subdirs = v != 0; return 0;
    case PW_OPT_NAMES_ONLY: o->names_only = v != 0; return 0;
    case PW_OPT_BARE_DOT: o->bare_dot = v != 0; return 0;
    case PW_OPT_ERROR_CLEAR: o->error_clear = v != 0; return 0;
    case PW_OPT_CANONICAL: o->canonical = v != 0; return 0;
    case PW_OPT_SKIP_FD:
      if (v < 0 || v > INT32_MAX || o->n_skip_fds == PW_SKIP_FDS_MAX) return -EINVAL;
      o->skip_fds[o->n_skip_fds++] = (int)v;
      return 0;
    default: return -EINVAL;
  }
}

PW_API int32_t pw_opts_set_str(pw_opts *o, int32_t key, const uint8_t *s, size_t len) {
  /* s may be NULL when len is 0 (Deno's empty Uint8Array): never read then */
  if (len && !s) return -EINVAL;
  if (len && memchr(s, 0, len)) return -EINVAL; /* a path never holds NUL */
  char *p = dup_bytes(s, len);
  if (!p) return -ENOMEM;
  switch (key) {
    case PW_OPT_ROOT:
      free(o->root);
      o->root = p;
      o->root_len = len;
      return 0;
    case PW_OPT_OUTPUT:
      free(o->output);
      o->output = p;
      return 0;
    case PW_OPT_ROOT_REAL:
      free(o->root_real);
      o->root_real = p;
      return 0;
    case PW_OPT_EXCLUDE:
      if (strlist_add(&o->excludes, p, len)) break;
      return 0;
    case PW_OPT_FRONTIER:
      if (strlist_add(&o->frontier, p, len)) break;
      return 0;
    case PW_OPT_DEV_MAP: {
      int e = dev_map_add(o, p);
      free(p);
      return e;
    }
    case PW_OPT_SKIP_PATH:
      if (o->skip_paths.n == PW_SKIP_PATHS_MAX || memchr(p, 0, len)) {
        free(p);
        return -EINVAL;
      }
      if (strlist_add(&o->skip_paths, p, len)) break;
      return 0;
    case PW_OPT_GUARD_PATH:
      if (o->guard_paths.n == PW_GUARD_PATHS_MAX || memchr(p, 0, len)) {
        free(p);
        return -EINVAL;
      }
      if (strlist_add(&o->guard_paths, p, len)) break;
      return 0;
    default:
      free(p);
      return -EINVAL;
  }
  free(p);
  return -ENOMEM;
}

struct pw_opts *pw_opts_clone(const struct pw_opts *o) {
  struct pw_opts *c = pw_opts_new();
  if (!c) return NULL;
  *c = *o;
  c->root = NULL;
  c->output = NULL;
  c->root_real = NULL;
  memset(&c->excludes, 0, sizeof c->excludes);
  memset(&c->frontier, 0, sizeof c->frontier);
  memset(&c->skip_paths, 0, sizeof c->skip_paths);
  memset(&c->guard_paths, 0, sizeof c->guard_paths);
  c->change_gids = NULL;
  c->n_change_gids = 0;
  c->dev_from = c->dev_to = NULL;
  c->n_dev_map = 0;
  if (o->root && pw_opts_set_str(c, PW_OPT_ROOT, (const uint8_t *)o->root, o->root_len)) goto fail;
  if (o->output && pw_opts_set_str(c, PW_OPT_OUTPUT, (const uint8_t *)o->output, strlen(o->output)))
    goto fail;
  if (o->root_real &&
      pw_opts_set_str(c, PW_OPT_ROOT_REAL, (const uint8_t *)o->root_real, strlen(o->root_real)))
    goto fail;
  for (size_t i = 0; i < o->excludes.n; i++)
    if (pw_opts_set_str(c, PW_OPT_EXCLUDE, (const uint8_t *)o->excludes.items[i],
                        o->excludes.lens[i]))
      goto fail;
  for (size_t i = 0; i < o->frontier.n; i++)
    if (pw_opts_set_str(c, PW_OPT_FRONTIER, (const uint8_t *)o->frontier.items[i],
                        o->frontier.lens[i]))
      goto fail;
  for (size_t i = 0; i < o->skip_paths.n; i++)
    if (pw_opts_set_str(c, PW_OPT_SKIP_PATH, (const uint8_t *)o->skip_paths.items[i],
                        o->skip_paths.lens[i]))
      goto fail;
  for (size_t i = 0; i < o->guard_paths.n; i++)
    if (pw_opts_set_str(c, PW_OPT_GUARD_PATH, (const uint8_t *)o->guard_paths.items[i],
                        o->guard_paths.lens[i]))
      goto fail;
  for (size_t i = 0; i < o->n_change_gids; i++)
    if (pw_opts_set_int(c, PW_OPT_CHANGE_GID, o->change_gids[i])) goto fail;
  if (o->n_dev_map) {
    c->dev_from = malloc(o->n_dev_map * sizeof *c->dev_from);
    c->dev_to = malloc(o->n_dev_map * sizeof *c->dev_to);
    if (!c->dev_from || !c->dev_to) goto fail;
    memcpy(c->dev_from, o->dev_from, o->n_dev_map * sizeof *c->dev_from);
    memcpy(c->dev_to, o->dev_to, o->n_dev_map * sizeof *c->dev_to);
    c->n_dev_map = o->n_dev_map;
  }
  return c;
fail:
  pw_opts_free(c);
  return NULL;
}

static uint64_t hash_bytes(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

int pw_strset_build(pw_strset *s, char *const *strs, const size_t *lens, size_t n) {
  memset(s, 0, sizeof *s);
  if (!n) return 0;
  size_t size = 16;
  while (size < n * 2) size <<= 1;
  s->slots = calloc(size, sizeof *s->slots);
  s->lens = calloc(size, sizeof *s->lens);
  if (!s->slots || !s->lens) {
    pw_strset_free(s);
    return -ENOMEM;
  }
  s->mask = size - 1;
  for (size_t i = 0; i < n; i++) {
    if (pw_strset_has(s, strs[i], lens[i])) continue;
    size_t k = hash_bytes(strs[i], lens[i]) & s->mask;
    while (s->slots[k]) k = (k + 1) & s->mask;
    s->slots[k] = strs[i];
    s->lens[k] = lens[i];
    s->count++;
  }
  return 0;
}

bool pw_strset_has(const pw_strset *s, const char *str, size_t len) {
  if (!s->count) return false;
  size_t k = hash_bytes(str, len) & s->mask;
  while (s->slots[k]) {
    if (s->lens[k] == len && memcmp(s->slots[k], str, len) == 0) return true;
    k = (k + 1) & s->mask;
  }
  return false;
}

/* The strings belong to the options; only the table is freed. */
void pw_strset_free(pw_strset *s) {
  free(s->slots);
  free(s->lens);
  memset(s, 0, sizeof *s);
}
