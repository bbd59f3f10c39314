/*
 * names.h — user and group names for the change lines of repair and chown
 * (getgrgid_r), cached per worker so that a run changing a million files
 * asks NSS (files, LDAP, sssd...) once per group and worker, not once per
 * change; and pw_id_name for JavaScript (undo's lines, the syslog line).
 */
#ifndef PW_NAMES_H
#define PW_NAMES_H

#include <stdint.h>
#include <sys/types.h>

/** Slots of a worker's cache (direct-mapped by gid). */
#define PW_NAMES_SLOTS 64
/** Longest name kept; longer ones are shown as numbers only. */
#define PW_NAME_MAX 64

/** One worker's group-name cache: no lock, allocation only on a miss. */
typedef struct pw_names {
  struct {
    uint32_t gid;
    int8_t state; /**< 0 empty, 1 a name, -1 no name for gid */
    char name[PW_NAME_MAX + 1];
  } slot[PW_NAMES_SLOTS];
  char *buf; /**< getgrgid_r's buffer, grown on ERANGE */
  size_t cap;
} pw_names;

/** The name of group gid, or NULL when it has none (or it is too long). */
const char *pw_group_name(pw_names *c, gid_t gid);
/** Free what the cache allocated (not c itself). */
void pw_names_free(pw_names *c);

#endif
