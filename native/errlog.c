/* errlog.c — see errlog.h. */
#include "errlog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pwalk.h"
#include "sys.h"

const char *pw_op_name(int op) {
  switch (op) {
    case PW_OP_OPEN: return "open";
    case PW_OP_READ: return "read";
    case PW_OP_STAT: return "stat";
    case PW_OP_WRITE: return "write";
    case PW_OP_CHANGE: return "change";
    case PW_OP_RACE: return "race";
    case PW_OP_ANCESTOR: return "ancestor";
    case PW_OP_LOOP:
    case PW_OP_LOOP_GUARD: return "loop";
    case PW_OP_CHOWN: return "chown";
    case PW_OP_CHMOD: return "chmod";
    case PW_OP_ACL: return "acl";
    case PW_OP_CAPABILITY: return "capability";
    case PW_OP_LINKS:
    case PW_OP_LINKS_LEFT: return "links";
    case PW_OP_DEVICE: return "device";
    case PW_OP_HARDLINKS:
    case PW_OP_OVERLAY_LINKS: return "hardlinks";
    case PW_OP_ACL_NAMED:
    case PW_OP_ACL_OTHER: return "acl_named";
    case PW_OP_SETID: return "setid";
    default: return "error";
  }
}

const char *pw_error_text(int op, int err) {
  if ((op == PW_OP_ACL || op == PW_OP_ACL_NAMED) && err) {
    static _Thread_local char unread[320];
    snprintf(unread, sizeof unread, op == PW_OP_ACL ? PW_ACL_UNREAD_FMT : PW_ACL_NAMED_UNREAD_FMT,
             strerror(err));
    return unread;
  }
  return op == PW_OP_ANCESTOR ? PW_NO_ANCESTOR_TEXT
         : op == PW_OP_ACL    ? PW_ACL_TEXT
         : op == PW_OP_CAPABILITY && !err ? PW_CAPS_TEXT
         : op == PW_OP_LINKS   ? PW_LINKS_TEXT
         : op == PW_OP_LINKS_LEFT ? PW_LINKS_LEFT_TEXT
         : op == PW_OP_DEVICE  ? PW_DEVICE_TEXT
         : op == PW_OP_HARDLINKS ? PW_HARDLINKS_TEXT
         : op == PW_OP_OVERLAY_LINKS ? PW_OVERLAY_LINKS_TEXT
         : op == PW_OP_ACL_NAMED ? PW_ACL_NAMED_TEXT
         : op == PW_OP_ACL_OTHER ? PW_ACL_OTHER_TEXT
         : op == PW_OP_SETID   ? PW_SETID_TEXT
         : op == PW_OP_LOOP && !err ? PW_ROOT_AGAIN_TEXT
         : op == PW_OP_LOOP_GUARD ? PW_GUARD_TEXT
                              : pw_errno_text(op, err);
}

const char *pw_errno_text(int op, int err) {
  return op == PW_OP_RACE && err == ESTALE ? PW_REPLACED_TEXT : strerror(err);
}

int pw_errlog_init(pw_errlog *l, uint32_t max, int fd) {
  memset(l, 0, sizeof *l);
  l->own_fd = l->own_csv_fd = -1;
  if (pthread_mutex_init(&l->mu, NULL)) return -ENOMEM;
  l->max = max;
  l->fd = fd;
  l->csv_fd = -1;
  return 0;
}

void pw_errlog_unblock(pw_errlog *l) {
  if (l->fd >= 0 && (l->own_fd = pw_reopen_nonblocking(l->fd)) >= 0) l->fd = l->own_fd;
  if (l->csv_fd >= 0 && (l->own_csv_fd = pw_reopen_nonblocking(l->csv_fd)) >= 0)
    l->csv_fd = l->own_csv_fd;
}

void pw_errlog_cancel(pw_errlog *l) { atomic_store(&l->stop, true); }

void pw_errlog_fini(pw_errlog *l) {
  if (l->own_fd >= 0) close(l->own_fd);
  if (l->own_csv_fd >= 0) close(l->own_csv_fd);
  for (uint32_t i = 0; i < l->n; i++) {
    free(l->items[i].path);
    free(l->items[i].text);
  }
  free(l->items);
  pthread_mutex_destroy(&l->mu);
}

/* The length of the valid UTF-8 sequence at p (its first byte >= 0x80), or
   0 when it is not one (a stray byte, an overlong form, a surrogate). */
static size_t utf8_seq(const unsigned char *p, size_t left) {
  unsigned char c = p[0];
  size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (!n || n > left) return 0;
  unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
  unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t k = 2; k < n; k++)
    if (p[k] < 0x80 || p[k] > 0xbf) return 0;
  return n;
}

/* The code points written \uXXXX (\u{XXXXX} above U+FFFF) on one line:
   every format character (Unicode's Cf: the bidirectional controls, which
   reorder what follows them, "a\u202etxt.exe" showing as "aexe.txt"; the
   invisible ones, zero-width space and joiners, word joiner, the BOM,
   the Mongolian vowel separator, the tags U+E0001, U+E0020-U+E007F, which
   make two names read alike) and the line and paragraph separators U+2028,
   U+2029 (a line break to some terminals): what lib/cli/common.ts oneLine
   and lib/journal.ts printablePath escape, /[\u2028\u2029\p{Cf}]/u.
   Ranges, in order.  tests/undo_journal_file_test.ts checks them against
   that regex of the running Deno, and prints them anew when Unicode has
   grown. */
/* escaped ranges: begin */
static const uint32_t escaped_ranges[][2] = {
    {0xad, 0xad}, {0x600, 0x605}, {0x61c, 0x61c}, {0x6dd, 0x6dd}, {0x70f, 0x70f},
    {0x890, 0x891}, {0x8e2, 0x8e2}, {0x180e, 0x180e}, {0x200b, 0x200f}, {0x2028, 0x202e},
    {0x2060, 0x2064}, {0x2066, 0x206f}, {0xfeff, 0xfeff}, {0xfff9, 0xfffb}, {0x110bd, 0x110bd},
    {0x110cd, 0x110cd}, {0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a},
    {0xe0001, 0xe0001}, {0xe0020, 0xe007f},
};
/* escaped ranges: end */

/* The code point of the valid n-byte UTF-8 sequence at p when it is one
   escaped (escaped_ranges), else 0. */
static uint32_t shown_escaped(const unsigned char *p, size_t n) {
  uint32_t cp = n == 2   ? ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3fu)
                : n == 3 ? ((uint32_t)(p[0] & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) |
                               (p[2] & 0x3fu)
                : n == 4 ? ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
                               ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3fu)
                         : 0;
  size_t lo = 0, hi = sizeof escaped_ranges / sizeof escaped_ranges[0];
  while (lo < hi) { /* the first range that ends at cp or after */
    size_t mid = (lo + hi) / 2;
    if (escaped_ranges[mid][1] < cp) lo = mid + 1;
    else hi = mid;
  }
  return cp && lo < sizeof escaped_ranges / sizeof escaped_ranges[0] &&
                 escaped_ranges[lo][0] <= cp
             ? cp
             : 0;
}

size_t pw_escape_path(char *out, const char *path, size_t len) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)path;
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = p[i];
    if (c >= 0x80) {
      size_t n = utf8_seq(p + i, len - i);
      /* a valid character is shown as it is, but a C1 control (U+0080-U+009F:
         C2 80-9F), which a terminal may obey as ESC [ and friends, is written
         as its two bytes \xc2\xHH, and a byte that is not UTF-8 (a lone 0x9b
         is CSI to an 8-bit terminal) as \xHH */
      /* a format character (a bidirectional control: "a\u202etxt.exe"
         shows as "aexe.txt"; an invisible one: "a\u200bb" shows as "ab")
         and a line or paragraph separator are written \uXXXX, \u{XXXXX}
         above U+FFFF, as summary and the CLI's messages write them (6
         bytes for 2 or 3, 9 for 4: within the 4 per byte callers allow) */
      uint32_t cp = shown_escaped(p + i, n);
      if (cp) {
        o += (size_t)(cp > 0xffff ? sprintf(out + o, "\\u{%x}", (unsigned)cp)
                                  : sprintf(out + o, "\\u%04x", (unsigned)cp));
        i += n - 1;
        continue;
      }
      if (n && !(c == 0xc2 && p[i + 1] <= 0x9f)) {
        memcpy(out + o, p + i, n);
        o += n;
        i += n - 1;
        continue;
      }
      if (n) {
        memcpy(out + o, "\\xc2", 4);
        o += 4;
        c = p[++i];
      }
      out[o++] = '\\';
      out[o++] = 'x';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
      continue;
    }
    if (c < 32 || c == 127 || c == '\\') {
      /* a backslash too, so that no name reads as another's escape */
      out[o++] = '\\';
      if (c == '\n') out[o++] = 'n';
      else if (c == '\t') out[o++] = 't';
      else if (c == '\\') out[o++] = '\\';
      else {
        out[o++] = 'x';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
      }
    } else {
      out[o++] = (char)c;
    }
  }
  return o;
}

static void stream_line(pw_errlog *l, const char *a, const char *path, size_t len,
                        const char *b) {
  int fd = l->fd;
  bool clear = l->clear_line;
  static const char wipe[] = "\r\x1b[K";
  size_t lw = clear ? sizeof wipe - 1 : 0, la = strlen(a), lb = strlen(b);
  char *line = malloc(lw + la + len * 4 + lb + 2);
  if (!line) return;
  memcpy(line, wipe, lw);
  memcpy(line + lw, a, la);
  size_t o = lw + la + pw_escape_path(line + lw + la, path, len);
  memcpy(line + o, b, lb);
  o += lb;
  line[o++] = '\n';
  (void)pw_write_until(fd, line, o, &l->stop, NULL);
  free(line);
}

const char *pw_errno_name(int err) {
  switch (err) {
#define N(e) \
  case e: return #e;
    N(EPERM) N(ENOENT) N(ESRCH) N(EINTR) N(EIO) N(ENXIO) N(E2BIG) N(EBADF) N(EAGAIN)
    N(ENOMEM) N(EACCES) N(EFAULT) N(EBUSY) N(EEXIST) N(EXDEV) N(ENODEV) N(ENOTDIR)
    N(EISDIR) N(EINVAL) N(ENFILE) N(EMFILE) N(ETXTBSY) N(EFBIG) N(ENOSPC) N(ESPIPE)
    N(EROFS) N(EMLINK) N(EPIPE) N(ERANGE) N(ENAMETOOLONG) N(ENOTEMPTY) N(ELOOP) N(ENOSYS)
    N(EOVERFLOW) N(ENOTSUP) N(ETIMEDOUT) N(ESTALE) N(EDQUOT) N(ENOTCONN) N(EHOSTDOWN)
    N(EHOSTUNREACH) N(ECONNABORTED) N(ECONNRESET) N(ECONNREFUSED)
#if defined(ENODATA)
    N(ENODATA)
#endif
#if defined(EREMOTEIO)
    N(EREMOTEIO)
#endif
#undef N
    default: return NULL;
  }
}

/* One CSV row: "path",op,ERRNO,"message"; quotes doubled, bytes kept as they
   are (to a terminal, escaped as pw_escape_path does: a name must not
   drive the terminal). */
static int csv_row(pw_errlog *l, int op, int err, const char *path, size_t len,
                   const char *text) {
  bool tty = l->csv_tty;
  const char *msg = text ? text : pw_error_text(op, err);
  size_t lm = strlen(msg);
  /* to a terminal, the path as the stderr lines write it (pw_escape_path) */
  char *shown = tty ? malloc(4 * len + 1) : NULL;
  if (tty && !shown) return -ENOMEM;
  const char *p = tty ? shown : path;
  size_t pl = tty ? pw_escape_path(shown, path, len) : len;
  char *row = malloc(2 * pl + 2 * lm + 64);
  if (!row) {
    free(shown);
    return -ENOMEM;
  }
  size_t o = 0;
  row[o++] = '"';
  for (size_t i = 0; i < pl; i++) {
    if (p[i] == '"') row[o++] = '"';
    row[o++] = p[i];
  }
  free(shown);
  const char *name = err ? pw_errno_name(err) : "";
  o += (size_t)sprintf(row + o, "\",%s,", pw_op_name(op));
  o += name ? (size_t)sprintf(row + o, "%s", name) : (size_t)sprintf(row + o, "E%d", err);
  row[o++] = ',';
  row[o++] = '"';
  for (size_t i = 0; i < lm; i++) {
    if (msg[i] == '"') row[o++] = '"';
    row[o++] = msg[i];
  }
  row[o++] = '"';
  row[o++] = '\n';
  int r = pw_write_until(l->csv_fd, row, o, &l->stop, NULL);
  free(row);
  return r;
}

int pw_errlog_add(pw_errlog *l, int op, int err, const char *path, size_t len) {
  return pw_errlog_add_text(l, op, err, path, len, NULL);
}

int pw_errlog_add_text(pw_errlog *l, int op, int err, const char *path, size_t len,
                       const char *text) {
  int failed = 0;
  pthread_mutex_lock(&l->mu);
  atomic_fetch_add_explicit(&l->count, 1, memory_order_relaxed);
  if (l->n < l->max) {
    if (!l->items) l->items = calloc(l->max, sizeof *l->items);
    char *copy = malloc(len + 1);
    char *tcopy = text ? strdup(text) : NULL;
    if (l->items && copy && (tcopy || !text)) {
      memcpy(copy, path, len);
      copy[len] = 0;
      l->items[l->n++] = (pw_errdetail){op, err, copy, len, tcopy};
    } else {
      free(copy);
      free(tcopy);
    }
  }
  if (l->fd >= 0) {
    char head[64], tail[256];
    size_t hl = strlen("pwalk: ");
    memcpy(head, "pwalk: ", hl);
    strcpy(head + hl, pw_op_name(op));
    strcat(head, " '");
    const char *msg = text ? text : pw_error_text(op, err);
    size_t lm = strlen(msg);
    /* a message of its own may be longer (a path in it) */
    char *t = lm + 4 > sizeof tail ? malloc(lm + 4) : tail;
    if (t) {
      memcpy(t, "': ", 3);
      memcpy(t + 3, msg, lm + 1);
      stream_line(l, head, path, len, t);
      if (t != tail) free(t);
    }
  }
  /* A row lost (a full disk) is never passed over: the first failure is
     the caller's to report, and no row is written after it (a later one
     could fit, leaving a file that looks whole but is not). */
  if (l->csv_fd >= 0 && !l->csv_err) {
    failed = csv_row(l, op, err, path, len, text);
    l->csv_err = -failed;
  }
  pthread_mutex_unlock(&l->mu);
  return failed;
}

void pw_errlog_badname(pw_errlog *l, const char *path, size_t len) {
  if (l->fd < 0) return;
  pthread_mutex_lock(&l->mu);
  stream_line(l, "Bad File: ", path, len, "");
  pthread_mutex_unlock(&l->mu);
}

uint64_t pw_errlog_count(pw_errlog *l) {
  return atomic_load_explicit(&l->count, memory_order_relaxed);
}
