/*
 * csvcheck.c — checks pw_csv_row (native/csvfmt.c) against C printf with
 * pwalk's own row format, over integer boundaries (every power of ten, the
 * 64-bit limits, negative times), random values, and paths whose folder
 * part is cached between rows (pw_csv_prefix) while its bytes change.
 * Prints the first difference and exits 1; 0 when every row matches.
 *
 *   cc native/driver/csvcheck.c native/csvfmt.c -o csvcheck   (tests/native.sh)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../csvfmt.h"

#define FMT "%ju,%ju,%ld,\"%s\",\"%s\",%ld,%ld,%ld,%ld,%ld,%d,\"%07o\",%ld,%ld,%ld,%ld,%ld\n"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) { /* xorshift64* */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ull;
}

/* pwalk's quoting, written plainly: '"' doubled, bytes below 32 dropped. */
static void escape(char *out, const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 32) continue;
    if (c == '"') *out++ = '"';
    *out++ = (char)c;
  }
  *out = 0;
}

static uint64_t interesting[64];
static int n_interesting;

static uint64_t pick(void) {
  uint64_t r = next();
  switch (r % 4) {
    case 0: return interesting[(r >> 8) % (uint64_t)n_interesting];
    case 1: return next() >> (next() % 64);
    default: return next() % 100000000000ull;
  }
}

static long failures, rows;

static void check(const char *path, size_t len, size_t name_off, uint64_t listing,
                  pw_csv_prefix *pfx, bool dir) {
  struct stat st;
  memset(&st, 0, sizeof st);
  st.st_ino = (ino_t)pick();
  st.st_uid = (uid_t)pick();
  st.st_gid = (gid_t)pick();
  st.st_size = (off_t)pick();
  st.st_dev = (dev_t)pick();
  st.st_blocks = (blkcnt_t)pick();
  st.st_nlink = (nlink_t)(pick() & 0x7fffffff);
  st.st_mode = (mode_t)((dir ? S_IFDIR : S_IFREG) | (pick() & 07777));
  st.st_atime = (time_t)pick();
  st.st_mtime = -(time_t)(pick() & 0xffffffffff);
  st.st_ctime = (time_t)(int64_t)pick();
  pw_entry e = {.path = path, .len = len, .name_off = name_off, .listing = listing, .st = &st,
                .parent_ino = pick(), .depth = (int32_t)(pick() & 0xffff) - 1,
                .fcount = dir ? (int64_t)(pick() & 0xffffffff) : -1,
                .dirsum = dir ? (int64_t)pick() : 0};
  char *got = malloc(pw_csv_bound(len)), *q = malloc(2 * len + 1), *qe = malloc(2 * len + 1);
  char *want = malloc(4 * len + 1024);
  bool bad = false;
  size_t n = pw_csv_row(got, &e, pfx, &bad);
  escape(q, path, len);
  /* the extension: after the last '.' of the base name, unless that '.'
     is its first byte; folders have none */
  const char *name = path + name_off, *dot = NULL;
  for (const char *c = name; c < path + len; c++)
    if (*c == '.') dot = c;
  if (dir || !dot || dot == name) qe[0] = 0;
  else escape(qe, dot + 1, (size_t)(path + len - dot - 1));
  int m = sprintf(want, FMT, (uintmax_t)st.st_ino, (uintmax_t)e.parent_ino, (long)e.depth, q, qe,
                  (long)st.st_uid, (long)st.st_gid, (long)st.st_size, (long)st.st_dev,
                  (long)st.st_blocks, (int)st.st_nlink, (unsigned)st.st_mode, (long)st.st_atime,
                  (long)st.st_mtime, (long)st.st_ctime, (long)e.fcount, (long)e.dirsum);
  bool want_bad = false;
  for (size_t i = 0; i < len; i++) want_bad |= (unsigned char)path[i] < 32;
  rows++;
  if ((size_t)m != n || memcmp(got, want, n) || bad != want_bad) {
    if (failures++ < 5)
      fprintf(stderr, "csvcheck: row differs\n  got:  %.*s  want: %s  bad %d/%d\n", (int)n, got,
              want, bad, want_bad);
  }
  free(got);
  free(q);
  free(qe);
  free(want);
}

int main(void) {
  uint64_t p = 1;
  for (int k = 0; k < 20; k++, p *= 10) {
    interesting[n_interesting++] = p;
    interesting[n_interesting++] = p - 1;
    interesting[n_interesting++] = p + 1;
  }
  interesting[n_interesting++] = UINT64_MAX;
  interesting[n_interesting++] = (uint64_t)INT64_MAX;
  interesting[n_interesting++] = (uint64_t)INT64_MIN;
  interesting[n_interesting++] = UINT32_MAX;

  /* Folder parts: plain, with quotes, with control bytes, long. */
  const char *folders[] = {"/data", "/da\"ta/x\"\"y", "/tab\there/new\nline", "/p/.hidden",
                           "/0123456789abcdef0123456789abcdef/0123456789abcdef0123456789abcdef"};
  const char *names[] = {"a.txt", "noext", ".bashrc", "a.tar.gz", "trailing.", "q\"uote.c\"sv",
                         "ctl\x01.t\tx", "..x.txt", "\xff\xfe.bin", "0123456789abcdef.long"};
  char buf[4096];
  pw_csv_prefix pfx = {0};
  uint64_t listing = 0;
  for (int round = 0; round < 2000; round++) {
    /* one listing: the same buffer, one folder part, many names */
    const char *f = folders[next() % (sizeof folders / sizeof *folders)];
    size_t fl = strlen(f);
    memcpy(buf, f, fl);
    buf[fl] = '/';
    listing++;
    for (int i = 0; i < 20; i++) {
      const char *nm = names[next() % (sizeof names / sizeof *names)];
      size_t nl = strlen(nm);
      memcpy(buf + fl + 1, nm, nl + 1);
      bool dir = next() % 4 == 0;
      check(buf, fl + 1 + nl, fl + 1, listing, &pfx, dir);
      check(buf, fl + 1 + nl, fl + 1, 0, &pfx, dir);  /* no promise: no cache */
      check(buf, fl + 1 + nl, fl + 1, listing, NULL, dir);
    }
  }
  pw_csv_prefix_free(&pfx);
  if (failures) {
    fprintf(stderr, "csvcheck: %ld of %ld rows differ from printf\n", failures, rows);
    return 1;
  }
  printf("csvcheck: %ld rows equal printf's\n", rows);
  return 0;
}
