/*
 * failthread.c — an LD_PRELOAD shim for tests/native.sh: the calls of
 * pthread_create listed in FAIL_THREADS (numbers counted across the
 * process from 1, separated by commas: "2,3") fail with EAGAIN, as a
 * thread limit (ulimit -u, a cgroup's pids.max) makes them fail; at exit,
 * "THREADS=<calls made>" on stderr.  Not part of the library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static atomic_long calls;

/* Whether call n is listed in FAIL_THREADS. */
static int listed(long n) {
  const char *s = getenv("FAIL_THREADS");
  while (s && *s) {
    char *end;
    long k = strtol(s, &end, 10);
    if (end == s) return 0;
    if (k == n) return 1;
    s = *end == ',' ? end + 1 : end;
  }
  return 0;
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
  static create_fn next;
  if (!next) next = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
  if (listed(atomic_fetch_add(&calls, 1) + 1)) return EAGAIN;
  return next(t, attr, fn, arg);
}

__attribute__((destructor)) static void said(void) {
  fprintf(stderr, "THREADS=%ld\n", atomic_load(&calls));
}
