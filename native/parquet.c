/* parquet.c — see parquet.h.  The format: apache/parquet-format's
   parquet.thrift (Thrift compact protocol for every header and the footer). */
#include "parquet.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "csvfmt.h"
#include "pwalk.h"
#include "sys.h"

#define NCOLS 17
#define GROUP_ROWS 16384                /* rows a worker gathers per row group, */
#define GROUP_BUDGET (8 * GROUP_ROWS)   /* ... fewer when more than 8 workers may run, */
#define GROUP_MIN_ROWS 2048             /* ... never fewer than this, */
#define GROUP_NAME_BYTES (8u << 20)     /* ... or fewer, when names are this long */
#define STAT_BYTES 64 /* a text column's min and max keep this many bytes at most */

/* Parquet's physical types and converted types (parquet.thrift). */
enum { T_INT32 = 1, T_INT64 = 2, T_BYTE_ARRAY = 6 };
enum { CT_NONE = -1, CT_UTF8 = 0, CT_UINT_32 = 13, CT_UINT_64 = 14 };
enum { COL_FILENAME = 3, COL_EXTENSION = 4 };

/* pwalk's columns, in the header's order, as lib/answers/scan.ts types them. */
static const struct {
  const char *name;
  int type;
  int converted;
} COLS[NCOLS] = {
    {"inode", T_INT64, CT_UINT_64},     {"parent-inode", T_INT64, CT_UINT_64},
    {"directory-depth", T_INT32, CT_NONE}, {"filename", T_BYTE_ARRAY, CT_UTF8},
    {"fileExtension", T_BYTE_ARRAY, CT_UTF8}, {"UID", T_INT32, CT_UINT_32},
    {"GID", T_INT32, CT_UINT_32},       {"st_size", T_INT64, CT_NONE},
    {"st_dev", T_INT64, CT_NONE},       {"st_blocks", T_INT64, CT_NONE},
    {"st_nlink", T_INT64, CT_UINT_64},  {"st_mode", T_INT32, CT_UINT_32},
    {"st_atime", T_INT64, CT_NONE},     {"st_mtime", T_INT64, CT_NONE},
    {"st_ctime", T_INT64, CT_NONE},     {"pw_fcount", T_INT64, CT_NONE},
    {"pw_dirsum", T_INT64, CT_NONE},
};

/* ---- growable bytes -------------------------------------------------------- */

typedef struct buf {
  uint8_t *p;
  size_t len, cap;
} buf;

static bool reserve(buf *b, size_t more) {
  if (b->len + more <= b->cap) return true;
  uint8_t *p = pw_grow(b->p, &b->cap, b->len + more);
  if (p) b->p = p;
  return p != NULL;
}

/* ---- Thrift compact protocol (only what the headers and footer use) ------- */

enum {
  TT_TRUE = 1, TT_FALSE = 2, TT_I32 = 5, TT_I64 = 6, TT_BINARY = 8, TT_LIST = 9, TT_STRUCT = 12
};

typedef struct tw {
  buf *b;
  int16_t last[8]; /**< the last field id written, per open struct */
  int depth;
  bool oom;
} tw;

static void tw_bytes(tw *w, const void *p, size_t n) {
  if (w->oom || !reserve(w->b, n)) {
    w->oom = true;
    return;
  }
  memcpy(w->b->p + w->b->len, p, n);
  w->b->len += n;
}

static void tw_byte(tw *w, uint8_t v) { tw_bytes(w, &v, 1); }

static void tw_varint(tw *w, uint64_t v) {
  uint8_t out[10];
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  out[n++] = (uint8_t)v;
  tw_bytes(w, out, n);
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

static void tw_field(tw *w, int16_t id, uint8_t type) {
  int d = id - w->last[w->depth];
  if (d > 0 && d <= 15) {
    tw_byte(w, (uint8_t)(d << 4 | type));
  } else {
    tw_byte(w, type);
    tw_varint(w, zigzag(id));
  }
  w->last[w->depth] = id;
}

static void tw_i32(tw *w, int16_t id, int32_t v) {
  tw_field(w, id, TT_I32);
  tw_varint(w, zigzag(v));
}

static void tw_i64(tw *w, int16_t id, int64_t v) {
  tw_field(w, id, TT_I64);
  tw_varint(w, zigzag(v));
}

static void tw_string(tw *w, const char *s) {
  size_t n = strlen(s);
  tw_varint(w, n);
  tw_bytes(w, s, n);
}

static void tw_binary(tw *w, int16_t id, const char *s) {
  tw_field(w, id, TT_BINARY);
  tw_string(w, s);
}

static void tw_bin(tw *w, int16_t id, const void *p, size_t n) {
  tw_field(w, id, TT_BINARY);
  tw_varint(w, n);
  tw_bytes(w, p, n);
}

static void tw_bool(tw *w, int16_t id, bool v) { tw_field(w, id, v ? TT_TRUE : TT_FALSE); }

static void tw_list(tw *w, int16_t id, uint8_t elem, uint32_t n) {
  tw_field(w, id, TT_LIST);
  if (n < 15) {
    tw_byte(w, (uint8_t)(n << 4 | elem));
  } else {
    tw_byte(w, 0xf0 | elem);
    tw_varint(w, n);
  }
}

/* A struct: as field id (id > 0) or as a list element (id 0). */
static void tw_begin(tw *w, int16_t id) {
  if (id) tw_field(w, id, TT_STRUCT);
  w->last[++w->depth] = 0;
}

static void tw_end(tw *w) {
  tw_byte(w, 0);
  w->depth--;
}

/* A text column's bounds in a row group: its least and greatest values, cut
   to STAT_BYTES at a character's end (the max then raised to its prefix's
   successor: still above every value; "exact" no longer). */
typedef struct text_stat {
  uint8_t min[STAT_BYTES], max[STAT_BYTES + 4]; /* a successor may grow by 3 bytes */
  uint8_t min_len, max_len;
  bool min_exact, max_exact;
  bool has;     /**< bounds known (false: none written) */
  bool has_max; /**< false when no successor fits (a max of only U+10FFFF) */
} text_stat;

typedef struct group_rec {
  uint64_t offset;     /**< where the row group starts in the file */
  uint32_t rows;
  uint32_t at[NCOLS];  /**< each column chunk's start, from offset */
  uint32_t csize[NCOLS], usize[NCOLS]; /**< its bytes, compressed / not (headers included) */
  uint64_t lo[NCOLS], hi[NCOLS]; /**< a number column's min and max (PLAIN bytes, as int64) */
  text_stat text[2];             /**< filename's and fileExtension's bounds */
} group_rec;

struct pw_pq {
  atomic_int writers;  /**< workers started (pw_pq_rows_new) */
  pthread_mutex_t mu;
  group_rec *groups;
  size_t n, cap;
};

/* ---- a worker's rows -------------------------------------------------------- */

struct pw_pq_rows {
  buf col[NCOLS]; /**< PLAIN-encoded values, one buffer per column */
  uint32_t n;     /**< rows */
  uint32_t room;  /**< rows the fixed-width columns have room for */
  uint32_t limit; /**< rows in this row group at most */
  pw_pq *pq;      /**< the file (its count of workers) */
  buf z, group;   /**< scratch: one compressed page; the row group's bytes */
  buf name;       /**< scratch: a name being escaped */
};

/* Rows per row group now: memory for rows in waiting stays near that of
   8 workers' full groups (about 40 MiB) however many workers the governor
   lets read; a worker takes the figure of the moment at each group's
   first row. */
static uint32_t group_rows(pw_pq *pq) {
  int n = atomic_load_explicit(&pq->writers, memory_order_relaxed);
  uint32_t rows = n > 8 ? (uint32_t)(GROUP_BUDGET / n) : GROUP_ROWS;
  return rows < GROUP_MIN_ROWS ? GROUP_MIN_ROWS : rows;
}

pw_pq_rows *pw_pq_rows_new(pw_pq *pq) {
  pw_pq_rows *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  atomic_fetch_add_explicit(&pq->writers, 1, memory_order_relaxed);
  r->pq = pq;
  return r;
}

/* Room for more rows in the fixed-width columns: doubled from 512 up to
   the row group's rows, so that a worker that sees few entries (one of 64
   on a slow network file system) holds little.  false when out of memory. */
static bool make_room(pw_pq_rows *r) {
  uint32_t room = r->room ? r->room * 2 : 512;
  if (room > r->limit) room = r->limit;
  for (int c = 0; c < NCOLS; c++) {
    if (COLS[c].type == T_BYTE_ARRAY) continue;
    size_t width = COLS[c].type == T_INT64 ? 8 : 4;
    if (!reserve(&r->col[c], width * room - r->col[c].len)) return false;
  }
  r->room = room;
  return true;
}

void pw_pq_rows_free(pw_pq_rows *r) {
  if (!r) return;
  for (int c = 0; c < NCOLS; c++) free(r->col[c].p);
  free(r->z.p);
  free(r->group.p);
  free(r->name.p);
  free(r);
}

/* Fixed-width values: make_room gave the buffers room for this row. */
static inline void put64(pw_pq_rows *r, int c, uint64_t v) {
  memcpy(r->col[c].p + r->col[c].len, &v, 8);
  r->col[c].len += 8;
}

static inline void put32(pw_pq_rows *r, int c, uint32_t v) {
  memcpy(r->col[c].p + r->col[c].len, &v, 4);
  r->col[c].len += 4;
}

/* s with each byte that is not part of a UTF-8 character as \xNN (its
   characters stay), into out (4 * n bytes at most); the end. */
static uint8_t *escape_invalid(uint8_t *out, const uint8_t *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n;) {
    size_t k = s[i] < 0x80 ? 1 : pw_utf8_seq(s + i, n - i);
    if (k) {
      memcpy(out, s + i, k);
      out += k;
      i += k;
    } else {
      *out++ = '\\';
      *out++ = 'x';
      *out++ = (uint8_t)hex[s[i] >> 4];
      *out++ = (uint8_t)hex[s[i] & 15];
      i++;
    }
  }
  return out;
}

/* One BYTE_ARRAY value: s without control bytes; escaped when the row's
   name is not UTF-8 (*escape: decided by the filename, the first call). */
static int put_text(pw_pq_rows *r, int c, const char *s, size_t n, bool *bad, bool *escape,
                    bool decide) {
  buf *b = &r->col[c];
  if (!reserve(b, 4 + 4 * n)) return -ENOMEM;
  uint8_t *start = b->p + b->len + 4;
  size_t len = (size_t)((uint8_t *)pw_drop_controls((char *)start, s, n, bad) - start);
  if (decide) *escape = pw_utf16_len(start, len) < 0;
  if (*escape) {
    r->name.len = 0;
    if (!reserve(&r->name, len)) return -ENOMEM;
    memcpy(r->name.p, start, len);
    len = (size_t)(escape_invalid(start, r->name.p, len) - start);
  }
  uint32_t l32 = (uint32_t)len;
  memcpy(b->p + b->len, &l32, 4);
  b->len += 4 + len;
  return 0;
}

int pw_pq_add(pw_pq_rows *r, const pw_entry *e, bool *bad) {
  const struct stat *st = e->st;
  bool escape = false, ignored = false;
  *bad = false;
  if (!r->n) r->limit = group_rows(r->pq); /* a new group: as many rows as workers allow now */
  if (r->n >= r->limit) return -ENOSPC;    /* a flush failed: the job is ending */
  if (r->n == r->room && !make_room(r)) return -ENOMEM;
  put64(r, 0, (uint64_t)st->st_ino);
  put64(r, 1, e->parent_ino);
  put32(r, 2, (uint32_t)e->depth);
  if (put_text(r, COL_FILENAME, e->path, e->len, bad, &escape, true)) return -ENOMEM;
  size_t elen = 0;
  const char *ext = "";
  if (!S_ISDIR(st->st_mode)) ext = pw_extension(e->path + e->name_off, e->len - e->name_off, &elen);
  if (put_text(r, COL_EXTENSION, ext, elen, &ignored, &escape, false)) return -ENOMEM;
  put32(r, 5, (uint32_t)st->st_uid);
  put32(r, 6, (uint32_t)st->st_gid);
  put64(r, 7, (uint64_t)(int64_t)st->st_size);
  put64(r, 8, (uint64_t)(int64_t)st->st_dev); /* signed, as the CSV prints it */
  put64(r, 9, (uint64_t)(int64_t)st->st_blocks);
  /* as the CSV prints it (a signed 32-bit number), read back unsigned as
     the reader reads the CSV: 3,000,000,000 links, not 2^64 less 1,294,967,296 */
  put64(r, 10, (uint64_t)(uint32_t)st->st_nlink);
  put32(r, 11, (uint32_t)st->st_mode);
  put64(r, 12, (uint64_t)(int64_t)st->st_atime);
  put64(r, 13, (uint64_t)(int64_t)st->st_mtime);
  put64(r, 14, (uint64_t)(int64_t)st->st_ctime);
  put64(r, 15, (uint64_t)e->fcount);
  put64(r, 16, (uint64_t)e->dirsum);
  r->n++;
  return r->n >= r->limit || r->col[COL_FILENAME].len >= GROUP_NAME_BYTES ? 1 : 0;
}

/* ---- the file ----------------------------------------------------------------- */

pw_pq *pw_pq_new(void) {
  pw_pq *pq = calloc(1, sizeof *pq);
  if (pq) pthread_mutex_init(&pq->mu, NULL);
  return pq;
}

void pw_pq_free(pw_pq *pq) {
  if (!pq) return;
  free(pq->groups);
  pthread_mutex_destroy(&pq->mu);
  free(pq);
}

/* ---- each column's bounds in a row group (Parquet's Statistics) -------------- */

static bool is_unsigned(int c) {
  return COLS[c].converted == CT_UINT_32 || COLS[c].converted == CT_UINT_64;
}

/* A number column's least and greatest of its n PLAIN values, compared as
   its type says (UINT_32/UINT_64 unsigned, the others signed), as the
   value's bytes read as a uint64 (an INT32's in the low half). */
static void number_bounds(const buf *v, int c, uint32_t n, uint64_t *lo, uint64_t *hi) {
  const uint8_t *p = v->p;
  if (COLS[c].type == T_INT64 && is_unsigned(c)) {
    uint64_t a = UINT64_MAX, b = 0, x;
    for (uint32_t i = 0; i < n; i++) {
      memcpy(&x, p + 8 * (size_t)i, 8);
      a = x < a ? x : a;
      b = x > b ? x : b;
    }
    *lo = a, *hi = b;
  } else if (COLS[c].type == T_INT64) {
    int64_t a = INT64_MAX, b = INT64_MIN, x;
    for (uint32_t i = 0; i < n; i++) {
      memcpy(&x, p + 8 * (size_t)i, 8);
      a = x < a ? x : a;
      b = x > b ? x : b;
    }
    *lo = (uint64_t)a, *hi = (uint64_t)b;
  } else if (is_unsigned(c)) {
    uint32_t a = UINT32_MAX, b = 0, x;
    for (uint32_t i = 0; i < n; i++) {
      memcpy(&x, p + 4 * (size_t)i, 4);
      a = x < a ? x : a;
      b = x > b ? x : b;
    }
    *lo = a, *hi = b;
  } else {
    int32_t a = INT32_MAX, b = INT32_MIN, x;
    for (uint32_t i = 0; i < n; i++) {
      memcpy(&x, p + 4 * (size_t)i, 4);
      a = x < a ? x : a;
      b = x > b ? x : b;
    }
    *lo = (uint32_t)a, *hi = (uint32_t)b;
  }
}

/* Byte order (Parquet's for UTF8: unsigned bytes, a prefix first). */
static int bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
  int d = memcmp(a, b, an < bn ? an : bn);
  return d ? d : (an > bn) - (an < bn);
}

/* The longest prefix of s (UTF-8) of at most STAT_BYTES that ends at a character's end. */
static size_t cut(const uint8_t *s, size_t n) {
  if (n <= STAT_BYTES) return n;
  size_t k = STAT_BYTES;
  while (k > 0 && (s[k] & 0xC0) == 0x80) k--;
  return k;
}

/* p[0..*n) (valid UTF-8) made the least string above every string it
   begins: its last character raised to the next code point (U+10FFFF
   dropped, the one before raised instead).  false when none is left. */
static bool successor(uint8_t *p, size_t *n) {
  size_t len = *n;
  while (len > 0) {
    size_t st = len - 1;
    while (st > 0 && (p[st] & 0xC0) == 0x80) st--;
    size_t k = len - st;
    uint32_t cp = k == 1   ? p[st]
                  : k == 2 ? (uint32_t)(p[st] & 0x1F) << 6 | (p[st + 1] & 0x3F)
                  : k == 3 ? (uint32_t)(p[st] & 0x0F) << 12 | (uint32_t)(p[st + 1] & 0x3F) << 6 |
                                 (p[st + 2] & 0x3F)
                           : (uint32_t)(p[st] & 0x07) << 18 | (uint32_t)(p[st + 1] & 0x3F) << 12 |
                                 (uint32_t)(p[st + 2] & 0x3F) << 6 | (p[st + 3] & 0x3F);
    if (cp < 0x10FFFF) {
      cp = cp + 1 == 0xD800 ? 0xE000 : cp + 1; /* no surrogates in UTF-8 */
      uint8_t *o = p + st;
      if (cp < 0x80) {
        *o++ = (uint8_t)cp;
      } else if (cp < 0x800) {
        *o++ = (uint8_t)(0xC0 | cp >> 6), *o++ = (uint8_t)(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        *o++ = (uint8_t)(0xE0 | cp >> 12), *o++ = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (uint8_t)(0x80 | (cp & 0x3F));
      } else {
        *o++ = (uint8_t)(0xF0 | cp >> 18), *o++ = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
        *o++ = (uint8_t)(0x80 | (cp >> 6 & 0x3F)), *o++ = (uint8_t)(0x80 | (cp & 0x3F));
      }
      *n = (size_t)(o - p);
      return true;
    }
    len = st;
  }
  return false;
}

/* A text column's bounds over its n values (each a 4-byte length and its
   bytes).  false when they cannot be given (a value not UTF-8: never, as
   put_text escapes, but then no bounds rather than wrong ones). */
static bool text_bounds(const buf *v, uint32_t n, text_stat *t) {
  const uint8_t *lo = NULL, *hi = NULL, *p = v->p;
  size_t lon = 0, hin = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t len;
    memcpy(&len, p, 4);
    p += 4;
    if (!lo || bytes_cmp(p, len, lo, lon) < 0) lo = p, lon = len;
    if (!hi || bytes_cmp(p, len, hi, hin) > 0) hi = p, hin = len;
    p += len;
  }
  t->has = false;
  if (!lo || pw_utf16_len(lo, lon) < 0 || pw_utf16_len(hi, hin) < 0) return false;
  size_t k = cut(lo, lon);
  memcpy(t->min, lo, k);
  t->min_len = (uint8_t)k;
  t->min_exact = k == lon;
  k = cut(hi, hin);
  memcpy(t->max, hi, k);
  t->max_exact = k == hin;
  t->has_max = t->max_exact || successor(t->max, &k);
  t->max_len = (uint8_t)k;
  t->has = true;
  return true;
}

/* A data page's header: PLAIN values, no levels (every column REQUIRED). */
static void page_header(tw *w, uint32_t rows, size_t usize, size_t csize) {
  tw_begin(w, 0);
  tw_i32(w, 1, 0); /* DATA_PAGE */
  tw_i32(w, 2, (int32_t)usize);
  tw_i32(w, 3, (int32_t)csize);
  tw_begin(w, 5);
  tw_i32(w, 1, (int32_t)rows);
  tw_i32(w, 2, 0); /* PLAIN */
  tw_i32(w, 3, 3); /* RLE (no levels) */
  tw_i32(w, 4, 3);
  tw_end(w);
  tw_end(w);
}

int pw_pq_flush(pw_pq *pq, pw_pq_rows *r, pw_sink *s) {
  if (!r->n) return 0;
  group_rec g = {.rows = r->n};
  r->group.len = 0;
  for (int c = 0; c < NCOLS; c++) {
    const buf *v = &r->col[c];
    if (COLS[c].type == T_BYTE_ARRAY)
      text_bounds(v, r->n, &g.text[c == COL_FILENAME ? 0 : 1]);
    else
      number_bounds(v, c, r->n, &g.lo[c], &g.hi[c]);
    size_t bound = ZSTD_compressBound(v->len), zn;
    r->z.len = 0;
    if (!reserve(&r->z, bound)) return -ENOMEM;
    int e = pw_sink_zstd(s, v->p, v->len, r->z.p, r->z.cap, &zn);
    if (e) return e;
    size_t at = r->group.len;
    tw w = {.b = &r->group};
    page_header(&w, r->n, v->len, zn);
    if (w.oom || !reserve(&r->group, zn)) return -ENOMEM;
    size_t head = r->group.len - at;
    memcpy(r->group.p + r->group.len, r->z.p, zn);
    r->group.len += zn;
    g.at[c] = (uint32_t)at;
    g.csize[c] = (uint32_t)(head + zn);
    g.usize[c] = (uint32_t)(head + v->len);
  }
  int e = pw_sink_append(s, (const char *)r->group.p, r->group.len, &g.offset);
  if (e) return e;
  pthread_mutex_lock(&pq->mu);
  if (pq->n == pq->cap) {
    size_t cap = pq->cap ? pq->cap * 2 : 64;
    group_rec *p = realloc(pq->groups, cap * sizeof *p);
    if (!p) {
      pthread_mutex_unlock(&pq->mu);
      return -ENOMEM;
    }
    pq->groups = p;
    pq->cap = cap;
  }
  pq->groups[pq->n++] = g;
  pthread_mutex_unlock(&pq->mu);
  for (int c = 0; c < NCOLS; c++) r->col[c].len = 0;
  r->n = 0;
  /* The scratch buffers are a row group's size: not kept between groups
     (two allocations per group, against 64 workers' idle megabytes). */
  free(r->z.p);
  free(r->group.p);
  r->z = r->group = (buf){0};
  return 0;
}

/* ColumnMetaData's statistics (field 12) of g's column c: no nulls, the
   min and max as PLAIN bytes (a text's cut as text_bounds says). */
static void statistics(tw *w, const group_rec *g, int c) {
  const text_stat *t = COLS[c].type == T_BYTE_ARRAY ? &g->text[c == COL_FILENAME ? 0 : 1] : NULL;
  if (t && !t->has) return;
  tw_begin(w, 12);
  tw_i64(w, 3, 0); /* null_count */
  if (t) {
    if (t->has_max) tw_bin(w, 5, t->max, t->max_len);
    tw_bin(w, 6, t->min, t->min_len);
    if (t->has_max) tw_bool(w, 7, t->max_exact);
    tw_bool(w, 8, t->min_exact);
  } else {
    size_t width = COLS[c].type == T_INT64 ? 8 : 4; /* little-endian: the low half first */
    tw_bin(w, 5, &g->hi[c], width);
    tw_bin(w, 6, &g->lo[c], width);
    tw_bool(w, 7, true);
    tw_bool(w, 8, true);
  }
  tw_end(w);
}

static int by_offset(const void *a, const void *b) {
  uint64_t x = ((const group_rec *)a)->offset, y = ((const group_rec *)b)->offset;
  return x < y ? -1 : x > y;
}

int pw_pq_finish(pw_pq *pq, pw_sink *s) {
  if (pq->n) qsort(pq->groups, pq->n, sizeof *pq->groups, by_offset); /* none: NULL groups */
  buf out = {0};
  tw w = {.b = &out};
  uint64_t rows = 0;
  for (size_t i = 0; i < pq->n; i++) rows += pq->groups[i].rows;
  tw_i32(&w, 1, 1); /* version */
  tw_list(&w, 2, TT_STRUCT, NCOLS + 1);
  tw_begin(&w, 0); /* the root */
  tw_binary(&w, 4, "schema");
  tw_i32(&w, 5, NCOLS);
  tw_end(&w);
  for (int c = 0; c < NCOLS; c++) {
    tw_begin(&w, 0);
    tw_i32(&w, 1, COLS[c].type);
    tw_i32(&w, 3, 0); /* REQUIRED */
    tw_binary(&w, 4, COLS[c].name);
    if (COLS[c].converted != CT_NONE) tw_i32(&w, 6, COLS[c].converted);
    tw_end(&w);
  }
  tw_i64(&w, 3, (int64_t)rows);
  tw_list(&w, 4, TT_STRUCT, (uint32_t)pq->n);
  for (size_t i = 0; i < pq->n; i++) {
    const group_rec *g = &pq->groups[i];
    int64_t total = 0;
    tw_begin(&w, 0);
    tw_list(&w, 1, TT_STRUCT, NCOLS);
    for (int c = 0; c < NCOLS; c++) {
      int64_t at = (int64_t)(g->offset + g->at[c]);
      total += g->usize[c];
      tw_begin(&w, 0);
      tw_i64(&w, 2, at); /* file_offset */
      tw_begin(&w, 3);   /* meta_data */
      tw_i32(&w, 1, COLS[c].type);
      tw_list(&w, 2, TT_I32, 2);
      tw_varint(&w, zigzag(0)); /* PLAIN */
      tw_varint(&w, zigzag(3)); /* RLE */
      tw_list(&w, 3, TT_BINARY, 1);
      tw_string(&w, COLS[c].name);
      tw_i32(&w, 4, 6); /* ZSTD */
      tw_i64(&w, 5, g->rows);
      tw_i64(&w, 6, g->usize[c]);
      tw_i64(&w, 7, g->csize[c]);
      tw_i64(&w, 9, at); /* data_page_offset */
      statistics(&w, g, c);
      tw_end(&w);
      tw_end(&w);
    }
    tw_i64(&w, 2, total);
    tw_i64(&w, 3, g->rows);
    tw_end(&w);
  }
  tw_binary(&w, 6, "pwalk version " PW_VERSION);
  /* column_orders: every column's bounds in its type's order (without
     them, readers must not trust min_value/max_value of unsigned columns) */
  tw_list(&w, 7, TT_STRUCT, NCOLS);
  for (int c = 0; c < NCOLS; c++) {
    tw_begin(&w, 0);
    tw_begin(&w, 1); /* TYPE_ORDER: TypeDefinedOrder, no fields */
    tw_end(&w);
    tw_end(&w);
  }
  tw_byte(&w, 0); /* end of FileMetaData */
  uint32_t len = (uint32_t)out.len;
  tw_bytes(&w, &len, 4);
  tw_bytes(&w, PW_PARQUET_MAGIC, 4);
  int e = w.oom ? -ENOMEM : pw_sink_append(s, (const char *)out.p, out.len, NULL);
  free(out.p);
  return e;
}
