/*
 * failmalloc.c — an LD_PRELOAD shim for tests/native.sh: the Nth call of
 * malloc, calloc, realloc, posix_memalign or aligned_alloc (counted across
 * all threads, from 1) fails with ENOMEM, as an exhausted memory cgroup or
 * address space makes it fail.  FAIL_AT=N picks the call (none without it);
 * FAIL_COUNT=1 prints "MALLOCS=<calls made>" on stderr at exit, the range a
 * sweep of N covers.  Not part of the library.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long calls;

/* Whether this call is the one to fail. */
static int failing(void) {
  static long at = -2; /* -2: FAIL_AT not read yet, -1: none */
  if (at == -2) {
    const char *s = getenv("FAIL_AT");
    at = s ? atol(s) : -1;
  }
  long n = atomic_fetch_add(&calls, 1) + 1;
  return at > 0 && n == at;
}

void *malloc(size_t n) {
  if (failing()) return errno = ENOMEM, NULL;
  return __libc_malloc(n);
}

void *calloc(size_t a, size_t b) {
  if (failing()) return errno = ENOMEM, NULL;
  return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n) {
  if (failing()) return errno = ENOMEM, NULL;
  return __libc_realloc(p, n);
}

int posix_memalign(void **p, size_t a, size_t n) {
  if (failing()) return ENOMEM;
  *p = __libc_memalign(a, n);
  return *p ? 0 : ENOMEM;
}

void *aligned_alloc(size_t a, size_t n) {
  if (failing()) return errno = ENOMEM, NULL;
  return __libc_memalign(a, n);
}

__attribute__((destructor)) static void said(void) {
  if (!getenv("FAIL_COUNT")) return;
  char b[64];
  int l = snprintf(b, sizeof b, "MALLOCS=%ld\n", (long)atomic_load(&calls));
  if (write(2, b, (size_t)l) < 0) { /* nothing to do */ }
}
