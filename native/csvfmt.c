/* csvfmt.c — see csvfmt.h. */
#include "csvfmt.h"

#include <stdint.h>
#include <string.h>

static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static inline char *put_u64(char *p, uint64_t v) {
  char tmp[24];
  char *t = tmp + sizeof tmp;
  while (v >= 100) {
    unsigned r = (unsigned)(v % 100);
    v /= 100;
    t -= 2;
    memcpy(t, digits2 + 2 * r, 2);
  }
  if (v >= 10) {
    t -= 2;
    memcpy(t, digits2 + 2 * v, 2);
  } else {
    *--t = (char)('0' + v);
  }
  size_t n = (size_t)(tmp + sizeof tmp - t);
  memcpy(p, t, n);
  return p + n;
}

static inline char *put_i64(char *p, int64_t v) {
  if (v < 0) {
    *p++ = '-';
    return put_u64(p, (uint64_t)0 - (uint64_t)v);
  }
  return put_u64(p, (uint64_t)v);
}

/* Quote-doubling copy that drops control bytes, as pwalk does.  Eight bytes
   at a time while none of them is a '"' or below 32 (nearly every path). */
static inline char *put_quoted(char *p, const char *s, size_t len, bool *bad) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  *p++ = '"';
  size_t i = 0;
  while (i < len) {
    if (i + 8 <= len) {
      uint64_t v, q;
      memcpy(&v, s + i, 8);
      q = v ^ (ones * '"');
      if (!(((v - ones * 32) & ~v) & highs) && !(((q - ones) & ~q) & highs)) {
        memcpy(p, &v, 8);
        p += 8;
        i += 8;
        continue;
      }
    }
    unsigned char c = (unsigned char)s[i++];
    if (c >= 32) {
      if (c == '"') *p++ = '"';
      *p++ = (char)c;
    } else {
      *bad = true;
    }
  }
  *p++ = '"';
  return p;
}

const char *pw_extension(const char *name, size_t name_len, size_t *len) {
  const char *dot = NULL;
  for (size_t i = name_len; i > 0; i--)
    if (name[i - 1] == '.') {
      dot = name + i - 1;
      break;
    }
  if (!dot || dot == name) {
    *len = 0;
    return name + name_len;
  }
  *len = name_len - (size_t)(dot + 1 - name);
  return dot + 1;
}

size_t pw_csv_row(char *out, const pw_entry *e, bool *bad) {
  const struct stat *st = e->st;
  char *p = out;
  p = put_u64(p, (uint64_t)st->st_ino);
  *p++ = ',';
  p = put_u64(p, e->parent_ino);
  *p++ = ',';
  p = put_i64(p, e->depth);
  *p++ = ',';
  bool b = false;
  p = put_quoted(p, e->path, e->len, &b);
  *p++ = ',';
  if (S_ISDIR(st->st_mode)) {
    *p++ = '"';
    *p++ = '"';
  } else {
    size_t elen;
    const char *ext = pw_extension(e->path + e->name_off, e->len - e->name_off, &elen);
    bool ignored = false;
    p = put_quoted(p, ext, elen, &ignored);
  }
  *p++ = ',';
  p = put_i64(p, (int64_t)st->st_uid);
  *p++ = ',';
  p = put_i64(p, (int64_t)st->st_gid);
  *p++ = ',';
  p = put_i64(p, (int64_t)st->st_size);
  *p++ = ',';
  p = put_i64(p, (int64_t)st->st_dev);
  *p++ = ',';
  p = put_i64(p, (int64_t)st->st_blocks);
  *p++ = ',';
  p = put_i64(p, (int32_t)st->st_nlink);
  *p++ = ',';
  *p++ = '"';
  unsigned mode = (unsigned)st->st_mode;
  for (int shift = 18; shift >= 0; shift -= 3) *p++ = (char)('0' + ((mode >> shift) & 7));
  *p++ = '"';
  *p++ = ',';
  p = put_i64(p, (int64_t)st->st_atime);
  *p++ = ',';
  p = put_i64(p, (int64_t)st->st_mtime);
  *p++ = ',';
  p = put_i64(p, (int64_t)st->st_ctime);
  *p++ = ',';
  p = put_i64(p, e->fcount);
  *p++ = ',';
  p = put_i64(p, e->dirsum);
  *p++ = '\n';
  *bad = b;
  return (size_t)(p - out);
}
