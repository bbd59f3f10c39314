/* changes.c — see changes.h. */
#include "changes.h"

#include <stdio.h>
#include <string.h>

#include "errlog.h"

bool pw_setgid_added(const pw_change *p, bool dir) {
  return dir && !(p->omode & S_ISGID) && (p->nmode & S_ISGID);
}

uint32_t pw_shown_mode(const pw_change *p, bool dir) {
  return pw_setgid_added(p, dir) ? p->nmode & ~(uint32_t)S_ISGID : p->nmode;
}

bool pw_hard_linked(const struct stat *st) {
  /* a FIFO, a socket, a device node or a symbolic link can have other
     names too (link(2) takes any but a folder): one inode, wherever they lie */
  return !S_ISDIR(st->st_mode) && st->st_nlink > 1;
}

/* The length of a space at s (n bytes there) that a colon before it would
   make read as ": ": the ASCII space, or a Unicode space separator (Zs:
   U+00A0, U+1680, U+2000 to U+200A, U+202F, U+205F, U+3000) in UTF-8,
   which a terminal shows as a space; 0 for anything else. */
static size_t space_at(const unsigned char *s, size_t n) {
  if (n >= 1 && s[0] == ' ') return 1;
  if (n >= 2 && s[0] == 0xc2 && s[1] == 0xa0) return 2;
  if (n < 3) return 0;
  uint32_t c = (uint32_t)s[0] << 16 | (uint32_t)s[1] << 8 | s[2];
  return c == 0xe19a80 || (c >= 0xe28080 && c <= 0xe2808a) || c == 0xe280af || c == 0xe2819f ||
                 c == 0xe38080
             ? 3
             : 0;
}

/* A change line is "PATH: what" (a chown line may be the path alone): a
   name holding a colon and a space (b[from, to), escaped) writes the
   space's bytes escaped, ":\x20" (":\xc2\xa0" for a no-break space...),
   so that a name like "x: mode 2755 -> 0755" cannot read as x's mode line,
   on screen either.  Returns the new end (3 bytes more for each byte
   escaped: within the 4 per byte pw_change_lines_bound allows). */
static size_t colon_space_escaped(char *b, size_t from, size_t to) {
  static const char hex[] = "0123456789abcdef";
  size_t extra = 0;
  for (size_t i = from; i + 1 < to; i++)
    if (b[i] == ':') extra += 3 * space_at((const unsigned char *)b + i + 1, to - i - 1);
  if (!extra) return to;
  /* moved up by extra, then copied down escaped: the writer never passes
     the reader (it is behind by the escapes still to come) */
  size_t len = to - from;
  memmove(b + from + extra, b + from, len);
  const unsigned char *r = (const unsigned char *)b + from + extra, *end = r + len;
  char *w = b + from;
  while (r < end) {
    unsigned char c = *r++;
    *w++ = (char)c;
    for (size_t k = c == ':' ? space_at(r, (size_t)(end - r)) : 0; k; k--, r++) {
      w[0] = '\\';
      w[1] = 'x';
      w[2] = hex[*r >> 4];
      w[3] = hex[*r & 15];
      w += 4;
    }
  }
  return to + extra;
}

/* "PATH" of a change line (": " in it escaped); a dry run's lines start
   "would change: ". */
static size_t line_start(bool dry_run, char *b, const pw_entry *e) {
  static const char dry[] = "would change: ";
  size_t n = 0;
  if (dry_run) {
    memcpy(b, dry, sizeof dry - 1);
    n = sizeof dry - 1;
  }
  return colon_space_escaped(b, n, n + pw_escape_path(b + n, e->path, e->len));
}

/* The end of a change line: a dry run flags a file with other names. */
static size_t line_end(bool dry_run, char *b, const struct stat *st) {
  size_t n = 0;
  if (dry_run && pw_hard_linked(st))
    n = (size_t)sprintf(b, " [%ju hard links: its other names change too]",
                        (uintmax_t)st->st_nlink);
  b[n++] = '\n';
  return n;
}

/* A group: "5000 (genome)", or "5000" when it has no name. */
static size_t group_text(pw_names *names, char *b, uint32_t gid) {
  const char *name = pw_group_name(names, gid);
  return name ? (size_t)sprintf(b, "%u (%s)", gid, name) : (size_t)sprintf(b, "%u", gid);
}

size_t pw_change_lines(char *b, bool chown, bool dry_run, pw_names *names, const pw_entry *e,
                       const struct stat *st, const pw_change *p) {
  bool dir = S_ISDIR(st->st_mode);
  size_t n = 0;
  if (chown) {
    n = line_start(dry_run, b, e);
    /* the kernel's chown takes setuid (and setgid when group-executable)
       off: said by --apply as by the dry run, so that a saved log of an
       applied run tells the bits were cleared (p: what the run left) */
    if (p->nmode != p->omode)
      n += (size_t)sprintf(b + n, ": mode %04o -> %04o", p->omode, p->nmode);
    return n + line_end(dry_run, b + n, st);
  }
  if (p->ngid != p->ogid) {
    n += line_start(dry_run, b + n, e);
    n += (size_t)sprintf(b + n, ": group ");
    n += group_text(names, b + n, p->ogid);
    n += (size_t)sprintf(b + n, " -> ");
    n += group_text(names, b + n, p->ngid);
    n += line_end(dry_run, b + n, st);
  }
  uint32_t shown = pw_shown_mode(p, dir);
  if (shown != p->omode) {
    n += line_start(dry_run, b + n, e);
    n += (size_t)sprintf(b + n, ": mode %04o -> %04o", p->omode, shown);
    n += line_end(dry_run, b + n, st);
  }
  if (pw_setgid_added(p, dir)) {
    n += line_start(dry_run, b + n, e);
    n += (size_t)sprintf(b + n, ": setgid added");
    n += line_end(dry_run, b + n, st);
  }
  return n;
}
