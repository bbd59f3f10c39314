/*
 * sys.h — small system helpers every part of libpwalk may use.
 *
 * Owns: writing a whole buffer to an fd, and the number of CPUs this
 * process may run on.
 */
#ifndef PW_SYS_H
#define PW_SYS_H

#include <stddef.h>

/** Write all of buf to fd, retrying on EINTR and short writes; 0 or -errno. */
int pw_write_all(int fd, const void *buf, size_t len);

/** CPUs this process may run on (affinity mask where there is one). */
int pw_cpu_count(void);

#endif
