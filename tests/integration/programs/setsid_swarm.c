// A container that tries to outlive its stop: `setsid_swarm N` starts N processes that leave its
// process group and session (setsid) and ignore SIGTERM. Every other one double-forks, as a
// daemon does, so its parent is gone (it is reparented to the control plane, the subreaper) and
// its stdout and stderr are /dev/null, not the container's output. The main process ignores
// SIGTERM too. Each process appends its pid, one line, to $PIDFILE; the main process's comes
// last, once all the others have written theirs.

#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void record_pid(const char* file) {
  char line[32];
  const int n = snprintf(line, sizeof line, "%d\n", (int)getpid());
  // O_APPEND: one write of a short line is never interleaved with another process's.
  const int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, line, (size_t)n) != n) _exit(2);
  close(fd);
}

static void stay(void) {
  for (;;) pause();
}

int main(int argc, char** argv) {
  const char* file = getenv("PIDFILE");
  const int count = argc > 1 ? atoi(argv[1]) : 0;
  if (!file || count <= 0) {
    fprintf(stderr, "usage: PIDFILE=FILE setsid_swarm N\n");
    return 2;
  }
  signal(SIGTERM, SIG_IGN);  // inherited by every child
  int ready[2];
  if (pipe(ready) != 0) return 1;
  for (int i = 0; i < count; ++i) {
    const pid_t child = fork();
    if (child < 0) return 1;
    if (child > 0) continue;
    close(ready[0]);
    setsid();
    if (i % 2 == 1) {
      // A daemon: its parent exits at once, and nothing of the container's output is kept.
      if (fork() != 0) _exit(0);
      const int null = open("/dev/null", O_RDWR);
      for (int fd = 0; fd <= 2; ++fd) dup2(null, fd);
    }
    record_pid(file);
    close(ready[1]);  // the main process reads EOF once every process wrote its pid
    stay();
  }
  close(ready[1]);
  char byte;
  while (read(ready[0], &byte, 1) > 0) {
  }
  // The double-forks' first children are done; nothing else is waited for.
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  record_pid(file);
  printf("started %d processes\n", count);
  fflush(stdout);
  signal(SIGCHLD, SIG_IGN);
  stay();
}
