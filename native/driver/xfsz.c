/*
 * xfsz.c — a check for tests/native.sh: sys.c built as for macOS
 * (-D__APPLE__ -U__linux__), where SIGXFSZ goes to the process rather than
 * to the writing thread, so that blocking it in the writer is not enough.
 * Run under `ulimit -f 4`: pw_write_all past the limit returns -EFBIG, the
 * signal's default action has been replaced by SIG_IGN (the process would
 * otherwise end, status 153), and a write of the host's own after it fails
 * with EFBIG too.  Prints "r=-27 ign=1 n=-1".  Not part of the library.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int pw_write_all(int fd, const void *buf, size_t len);

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return 2;
  static char buf[8192];
  int r = pw_write_all(fd, buf, sizeof buf);
  struct sigaction sa;
  sigaction(SIGXFSZ, NULL, &sa);
  ssize_t n = write(fd, buf, sizeof buf);
  printf("r=%d ign=%d n=%zd\n", r, sa.sa_handler == SIG_IGN, n);
  return 0;
}
