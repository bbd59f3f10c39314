/* csvfmt.c — see csvfmt.h. */
#include "csvfmt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static const uint64_t pow10_tab[20] = {
    1ull,
    10ull,
    100ull,
    1000ull,
    10000ull,
    100000ull,
    1000000ull,
    10000000ull,
    100000000ull,
    1000000000ull,
    10000000000ull,
    100000000000ull,
    1000000000000ull,
    10000000000000ull,
    100000000000000ull,
    1000000000000000ull,
    10000000000000000ull,
    100000000000000000ull,
    1000000000000000000ull,
    10000000000000000000ull,
};

/* Decimal digits of v (1 for 0): log2 from the leading zeros, times
   1233/4096 (~log10(2)), corrected by one comparison. */
static inline unsigned dec_len(uint64_t v) {
  unsigned t = ((unsigned)(64 - __builtin_clzll(v | 1)) * 1233u) >> 12;
  return t + ((v | 1) >= pow10_tab[t]);
}

/* Digits written straight into place, two at a time from the end: no
   scratch buffer and no variable-length copy (a libc call per number). */
static inline char *put_u64(char *p, uint64_t v) {
  char *end = p + dec_len(v), *t = end;
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
  return end;
}

static inline char *put_i64(char *p, int64_t v) {
  if (v < 0) {
    *p++ = '-';
    return put_u64(p, (uint64_t)0 - (uint64_t)v);
  }
  return put_u64(p, (uint64_t)v);
}

/* Copy that drops control bytes, as pwalk does, and doubles '"' when quote
   (CSV).  Eight bytes at a time while none of them is a '"' or below 32
   (nearly every path). */
static inline char *put_filtered(char *p, const char *s, size_t len, bool *bad, bool quote) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
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
      if (quote && c == '"') *p++ = '"';
      *p++ = (char)c;
    } else {
      *bad = true;
    }
  }
  return p;
}

static inline char *put_escaped(char *p, const char *s, size_t len, bool *bad) {
  return put_filtered(p, s, len, bad, true);
}

char *pw_drop_controls(char *out, const char *s, size_t len, bool *bad) {
  return put_filtered(out, s, len, bad, false);
}

static inline char *put_quoted(char *p, const char *s, size_t len, bool *bad) {
  *p++ = '"';
  p = put_escaped(p, s, len, bad);
  *p++ = '"';
  return p;
}

/* The quoted path: the folder part comes from pfx, escaped once per
   listing, and only the base name is escaped per row. */
static inline char *put_path(char *p, const pw_entry *e, pw_csv_prefix *pfx, bool *bad) {
  if (!pfx || !e->listing) return put_quoted(p, e->path, e->len, bad);
  if (pfx->listing != e->listing) {
    size_t need = 2 * e->name_off;
    if (need > pfx->cap) {
      size_t cap = pfx->cap ? pfx->cap : 4096;
      while (cap < need) cap *= 2;
      char *q = realloc(pfx->q, cap);
      if (!q) return put_quoted(p, e->path, e->len, bad); /* slower, still right */
      pfx->q = q;
      pfx->cap = cap;
    }
    pfx->bad = false;
    pfx->len = (size_t)(put_escaped(pfx->q, e->path, e->name_off, &pfx->bad) - pfx->q);
    pfx->listing = e->listing;
  }
  *p++ = '"';
  memcpy(p, pfx->q, pfx->len);
  p += pfx->len;
  if (pfx->bad) *bad = true;
  p = put_escaped(p, e->path + e->name_off, e->len - e->name_off, bad);
  *p++ = '"';
  return p;
}

void pw_csv_prefix_free(pw_csv_prefix *pfx) {
  free(pfx->q);
  *pfx = (pw_csv_prefix){0};
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

size_t pw_csv_row(char *out, const pw_entry *e, pw_csv_prefix *pfx, bool *bad) {
  const struct stat *st = e->st;
  char *p = out;
  p = put_u64(p, (uint64_t)st->st_ino);
  *p++ = ',';
  p = put_u64(p, e->parent_ino);
  *p++ = ',';
  p = put_i64(p, e->depth);
  *p++ = ',';
  bool b = false;
  p = put_path(p, e, pfx, &b);
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
