/*
 * sys.h — small system helpers every part of libpwalk may use.
 *
 * Owns: keeping the library loaded until the process ends (sys.c's
 * constructor), writing a whole buffer to an fd, the number of CPUs this process
 * may run on, growing a buffer, and telling valid UTF-8 (with its UTF-16
 * length).
 */
#ifndef PW_SYS_H
#define PW_SYS_H

#include <stddef.h>
#include <stdint.h>

/** Write all of buf to fd, retrying on EINTR and short writes; 0 or -errno. */
int pw_write_all(int fd, const void *buf, size_t len);

/** CPUs this process may run on (affinity mask where there is one). */
int pw_cpu_count(void);

/**
 * A buffer p of *cap bytes grown (doubling, from 4096 when empty) to hold
 * at least need bytes: the new buffer, *cap updated; NULL when out of
 * memory (p and *cap untouched).  Callers test need <= *cap first.
 */
void *pw_grow(void *p, size_t *cap, size_t need);

/** UTF-16 length of s (n bytes) when it is valid UTF-8, else -1. */
int64_t pw_utf16_len(const uint8_t *s, size_t n);

#endif
