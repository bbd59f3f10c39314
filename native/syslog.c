/*
 * syslog.c — one line per applied run to the system log (pw_syslog), as
 * repair-shared and python-pwalk log their changes.
 *
 * Written here rather than with syslog(3) so that the socket can be named
 * (PWALK_SYSLOG_SOCKET: the tests listen on their own) and so that nothing
 * of the process's own openlog() state is touched.  The message is RFC 3164
 * as syslog(3) sends it: "<PRI>Mmm dd hh:mm:ss pwalk[PID]: text".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "pwalk.h"

#ifndef _PATH_LOG
#define _PATH_LOG "/dev/log"
#endif
#ifndef SOCK_CLOEXEC /* macOS */
#define SOCK_CLOEXEC 0
#endif
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* Send msg over a new socket of this type connected to path. */
static int send_to(const char *path, int type, const char *msg, size_t len) {
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof a.sun_path) return -ENAMETOOLONG;
  strcpy(a.sun_path, path);
  int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int rc = 0;
  if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
    rc = -errno;
  } else {
    /* a stream socket takes a NUL after each message, as syslog(3) sends */
    size_t n = type == SOCK_STREAM ? len + 1 : len;
    ssize_t w;
    do w = send(fd, msg, n, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0) rc = -errno;
    else if ((size_t)w != n) rc = -EIO;
  }
  close(fd);
  return rc;
}

PW_API int32_t pw_syslog(const uint8_t *msg, size_t len) {
  if (!msg && len) return -EINVAL;
  if (len > 8000) len = 8000;
  char *line = malloc(len + 96);
  if (!line) return -ENOMEM;
  time_t now = time(NULL);
  struct tm tm;
  char stamp[32] = "Jan  1 00:00:00";
  if (localtime_r(&now, &tm)) strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
  int n = snprintf(line, 96, "<%d>%s pwalk[%ld]: ", LOG_AUTHPRIV | LOG_NOTICE, stamp,
                   (long)getpid());
  if (n < 0 || n >= 96) {
    free(line);
    return -EINVAL;
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char c = msg[i];
    line[n + (int)i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
  }
  size_t total = (size_t)n + len;
  line[total] = 0;
  const char *env = getenv("PWALK_SYSLOG_SOCKET");
  const char *path = env && *env ? env : _PATH_LOG;
  int rc = send_to(path, SOCK_DGRAM, line, total);
  if (rc == -EPROTOTYPE) rc = send_to(path, SOCK_STREAM, line, total);
  free(line);
  return rc;
}
