/* names.c — see names.h. */
#define _GNU_SOURCE
#include "names.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pwalk.h"

/* getgrgid_r / getpwuid_r into a growing buffer: the name, or NULL. */
static const char *lookup(int kind, uint32_t id, char **buf, size_t *cap, int *err) {
  if (!*cap) {
    long n = sysconf(kind ? _SC_GETGR_R_SIZE_MAX : _SC_GETPW_R_SIZE_MAX);
    *cap = n > 0 ? (size_t)n : 1024;
    *buf = malloc(*cap);
    if (!*buf) {
      *cap = 0;
      *err = ENOMEM;
      return NULL;
    }
  }
  for (;;) {
    int rc;
    const char *name = NULL;
    if (kind) {
      struct group g, *r = NULL;
      rc = getgrgid_r((gid_t)id, &g, *buf, *cap, &r);
      if (!rc && r) name = r->gr_name;
    } else {
      struct passwd pw, *r = NULL;
      rc = getpwuid_r((uid_t)id, &pw, *buf, *cap, &r);
      if (!rc && r) name = r->pw_name;
    }
    if (rc != ERANGE || *cap >= (1u << 20)) {
      *err = rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM ? 0 : rc;
      return name;
    }
    char *b = realloc(*buf, *cap * 2);
    if (!b) {
      *err = ENOMEM;
      return NULL;
    }
    *buf = b;
    *cap *= 2;
  }
}

const char *pw_group_name(pw_names *c, gid_t gid) {
  size_t i = ((uint32_t)gid * 2654435761u) >> 26; /* 64 slots */
  if (c->slot[i].state && c->slot[i].gid == (uint32_t)gid)
    return c->slot[i].state > 0 ? c->slot[i].name : NULL;
  int err = 0;
  const char *name = lookup(1, (uint32_t)gid, &c->buf, &c->cap, &err);
  size_t n = name ? strlen(name) : 0;
  if (err) return NULL; /* not cached: NSS may answer next time */
  c->slot[i].gid = (uint32_t)gid;
  if (!name || n == 0 || n > PW_NAME_MAX) {
    c->slot[i].state = -1;
    return NULL;
  }
  memcpy(c->slot[i].name, name, n + 1);
  c->slot[i].state = 1;
  return c->slot[i].name;
}

void pw_names_free(pw_names *c) {
  free(c->buf);
  c->buf = NULL;
  c->cap = 0;
}

PW_API int64_t pw_id_name(int32_t kind, uint32_t id, uint8_t *buf, size_t cap) {
  char *b = NULL;
  size_t bcap = 0;
  int err = 0;
  const char *name = lookup(kind ? 1 : 0, id, &b, &bcap, &err);
  int64_t n = name ? (int64_t)strlen(name) : err ? -err : 0;
  if (name && buf) memcpy(buf, name, (size_t)n < cap ? (size_t)n : cap);
  free(b);
  return n;
}
