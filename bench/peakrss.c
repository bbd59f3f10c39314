// peakrss: run a command (or a pipeline of commands) and report its wall time
// and peak resident memory, as measured by the kernel (wait4's ru_maxrss).
//
// usage: peakrss [-r RESULT] [-O STDOUT] [-E STDERR] -- CMD ARGS... [::: CMD ARGS...]...
//   ":::" separates the stages of a pipeline (stdout of one -> stdin of the next)
//   -O FILE  the last stage's stdout goes to FILE (created/truncated), e.g. /dev/null
//   -E FILE  every stage's stderr goes to FILE
//   -r FILE  write the result line to FILE instead of stderr
// result line: "wall_s=S maxrss_kib=K sum_maxrss_kib=K2 user_s=U sys_s=Y status=N"
//   maxrss_kib: the largest peak among the stages (each stage's figure covers
//   the stage and its own children); sum_maxrss_kib: the stages' peaks added
//   up, an upper bound for a pipeline whose stages run at the same time.
//   user_s, sys_s: CPU time in user space and in the kernel, summed over the
//   stages, their threads and their children (wait4's ru_utime, ru_stime).
//   status: the exit status of the last stage (128+signal when killed), or,
//   when the last stage succeeded, the first non-zero status of another stage.
// SIGINT, SIGTERM and SIGHUP sent to peakrss go on to the stages, which it
// waits for as ever: a run interrupted writes its result (status 130 for
// SIGINT), and leaves no stage running.
// build: cc -O2 -o peakrss peakrss.c
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_STAGES 16

static pid_t pid[MAX_STAGES];
static volatile sig_atomic_t started;

static void forward(int sig) {
  for (int s = 0; s < started; s++) kill(pid[s], sig);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int open_out(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    fprintf(stderr, "peakrss: %s: %s\n", path, strerror(errno));
    exit(125);
  }
  return fd;
}

int main(int argc, char **argv) {
  const char *result = NULL, *out = NULL, *err = NULL;
  int i = 1;
  for (; i < argc; i++) {
    if (!strcmp(argv[i], "--")) { i++; break; }
    if (i + 1 < argc && !strcmp(argv[i], "-r")) result = argv[++i];
    else if (i + 1 < argc && !strcmp(argv[i], "-O")) out = argv[++i];
    else if (i + 1 < argc && !strcmp(argv[i], "-E")) err = argv[++i];
    else break;
  }
  if (i >= argc) {
    fprintf(stderr, "usage: peakrss [-r RESULT] [-O STDOUT] [-E STDERR] -- CMD ARGS... [::: CMD ARGS...]\n");
    return 125;
  }
  char **stage[MAX_STAGES];
  int ns = 0;
  stage[ns++] = &argv[i];
  for (int k = i; k < argc; k++) {
    if (!strcmp(argv[k], ":::")) {
      argv[k] = NULL;
      if (ns == MAX_STAGES || k + 1 >= argc) {
        fprintf(stderr, "peakrss: bad pipeline\n");
        return 125;
      }
      stage[ns++] = &argv[k + 1];
    }
  }
  int outfd = out ? open_out(out) : -1, errfd = err ? open_out(err) : -1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  double t0 = now();
  int in = -1;
  for (int s = 0; s < ns; s++) {
    int p[2] = {-1, -1};
    if (s + 1 < ns && pipe2(p, O_CLOEXEC)) { perror("peakrss: pipe"); return 125; }
    pid[s] = fork();
    if (pid[s] < 0) { perror("peakrss: fork"); return 125; }
    if (pid[s] == 0) {
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      signal(SIGHUP, SIG_DFL);
      if (in >= 0) dup2(in, 0);
      if (s + 1 < ns) dup2(p[1], 1);
      else if (outfd >= 0) dup2(outfd, 1);
      if (errfd >= 0) dup2(errfd, 2);
      execvp(stage[s][0], stage[s]);
      fprintf(stderr, "peakrss: %s: %s\n", stage[s][0], strerror(errno));
      _exit(127);
    }
    started = s + 1;
    if (in >= 0) close(in);
    if (s + 1 < ns) { close(p[1]); in = p[0]; }
  }
  long maxrss = 0, sumrss = 0;
  double user = 0, sys = 0;
  int status_last = 0, status_other = 0;
  for (int left = ns; left > 0;) {
    int st;
    struct rusage ru;
    pid_t w = wait4(-1, &st, 0, &ru);
    if (w < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int s = 0;
    while (s < ns && pid[s] != w) s++;
    if (s == ns) continue;
    left--;
    if (ru.ru_maxrss > maxrss) maxrss = ru.ru_maxrss;
    sumrss += ru.ru_maxrss;
    user += (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    sys += (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (s == ns - 1) status_last = code;
    else if (!status_other) status_other = code;
  }
  double wall = now() - t0;
  int status = status_last ? status_last : status_other;
  FILE *f = result ? fopen(result, "w") : stderr;
  if (!f) { perror(result); return 125; }
  fprintf(f, "wall_s=%.6f maxrss_kib=%ld sum_maxrss_kib=%ld user_s=%.3f sys_s=%.3f status=%d\n",
          wall, maxrss, sumrss, user, sys, status);
  if (result) fclose(f);
  return status;
}
