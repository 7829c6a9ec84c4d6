// ticketctl-shim: the parent of one container's main process, as containerd's shim is, so the
// container's run is on record from its first instant and its exit status outlives the control
// plane that started it. Run by the kubelet only:
//   ticketctl-shim RUN_DIR PROGRAM ARGV0 [ARG...]
// It runs in the container's session, process group, cgroup and directory (the kubelet's spawn
// made them). Before it forks PROGRAM (with the environment it was given) it writes
// RUN_DIR/pid, "<its pid> <its start time in clock ticks>": a control plane killed at any moment
// after that leaves a run its successor can find. Signals sent to the group reach both; the
// shim leaves them to the container. When the container ends, the shim writes "exited N" or
// "signaled N" to RUN_DIR/exit and ends the same way (the same exit code, or killed by the same
// signal), so a parent sees what it would have seen of the container itself. fd 3, when open, is
// the kubelet's report pipe: an errno written there means PROGRAM could not be executed; the
// container's exec closes it.
// The shim is a subreaper: whatever the container starts stays below it, even a setsid'd daemon
// whose parent is gone, so the container's processes are the shim's descendants wherever no
// cgroup holds them (the kubelet's /proc walk). It reaps those orphans, and when the container's
// main process ends it kills what is left, as a container's end kills its cgroup, before it
// records the exit.
// Linked statically, so the preload library in the container's LD_PRELOAD stays out of it.

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void leave_to_the_container(int sig) {
  (void)sig;
}

// Writes `text` to RUN_DIR/name through a temporary file, so a reader never sees half of it.
static int write_record(const char* run_dir, const char* name, const char* text) {
  char path[4096], tmp[4096];
  if (snprintf(path, sizeof path, "%s/%s", run_dir, name) >= (int)sizeof path ||
      snprintf(tmp, sizeof tmp, "%s/.%s.tmp", run_dir, name) >= (int)sizeof tmp)
    return -1;
  // 0600 whatever the umask, and never through a symlink: the state directory is private.
  const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  fchmod(fd, 0600);
  FILE* out = fdopen(fd, "w");
  if (!out) {
    close(fd);
    return -1;
  }
  fputs(text, out);
  if (fclose(out) != 0) return -1;
  return rename(tmp, path);
}

// Field 22 of /proc/self/stat: the start time, which with the pid names this process for good.
static unsigned long long own_start_time(void) {
  char stat[4096];
  FILE* in = fopen("/proc/self/stat", "r");
  if (!in) return 0;
  const size_t n = fread(stat, 1, sizeof stat - 1, in);
  fclose(in);
  stat[n] = '\0';
  const char* p = strrchr(stat, ')');
  if (!p) return 0;
  unsigned long long ticks = 0;
  // After ") ": state is field 3; skip 19 fields to reach field 22.
  p += 2;
  for (int field = 3; field < 22 && p; ++field) {
    p = strchr(p, ' ');
    if (p) ++p;
  }
  if (!p || sscanf(p, "%llu", &ticks) != 1) return 0;
  return ticks;
}

// SIGKILL to each of this process's children (orphans of the container, reparented here);
// returns how many there were. Their own children come here in turn when they die.
static int kill_children(void) {
  DIR* proc = opendir("/proc");
  if (!proc) return 0;
  const pid_t self = getpid();
  int found = 0;
  for (struct dirent* e; (e = readdir(proc)) != NULL;) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const pid_t pid = (pid_t)atoi(e->d_name);
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE* in = fopen(path, "r");
    if (!in) continue;
    const size_t n = fread(stat, 1, sizeof stat - 1, in);
    fclose(in);
    stat[n] = '\0';
    const char* p = strrchr(stat, ')');
    char state = 0;
    int ppid = 0;
    if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2 || ppid != self) continue;
    if (state != 'Z') kill(pid, SIGKILL);
    ++found;
  }
  closedir(proc);
  return found;
}

static void report(int fd, int err) {
  if (fd >= 0 && write(fd, &err, sizeof err) < 0) {
    // Nothing more to say: the kubelet sees exit code 127.
  }
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: ticketctl-shim RUN_DIR PROGRAM ARGV0 [ARG...]\n");
    return 127;
  }
  const char* run_dir = argv[1];
  const char* program = argv[2];
  const int report_fd = fcntl(3, F_GETFD) >= 0 ? 3 : -1;
  if (report_fd >= 0) fcntl(report_fd, F_SETFD, FD_CLOEXEC);
  char record[64];
  snprintf(record, sizeof record, "%d %llu\n", (int)getpid(), own_start_time());
  if (write_record(run_dir, "pid", record) != 0) {
    report(report_fd, errno != 0 ? errno : EIO);
    return 127;
  }

  prctl(PR_SET_CHILD_SUBREAPER, 1);
  const pid_t child = fork();
  if (child < 0) {
    report(report_fd, errno);
    return 127;
  }
  if (child == 0) {
    execv(program, argv + 3);
    report(report_fd, errno);
    _exit(127);
  }
  if (report_fd >= 0) close(report_fd);
  // Whatever the group is sent (SIGTERM from the kubelet, SIGINT from a terminal) is for the
  // container; SIGKILL still ends the shim, and then the exit status is simply not known.
  struct sigaction pass;
  memset(&pass, 0, sizeof pass);
  pass.sa_handler = leave_to_the_container;
  sigemptyset(&pass.sa_mask);
  const int passed[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM};
  for (size_t i = 0; i < sizeof passed / sizeof passed[0]; ++i) sigaction(passed[i], &pass, NULL);
  // The container's output is its own: the shim must not keep its FIFOs open after it ends.
  const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd <= 2 && devnull >= 0; ++fd) dup2(devnull, fd);

  int status = 0;
  for (;;) {
    int any = 0;
    const pid_t pid = waitpid(-1, &any, 0);
    if (pid == child) {
      status = any;
      break;
    }
    if (pid < 0 && errno != EINTR) return 127;
  }
  // The container is its main process: what it leaves goes too, wherever it moved to.
  while (kill_children() > 0) waitpid(-1, NULL, 0);

  char how[64];
  if (WIFSIGNALED(status))
    snprintf(how, sizeof how, "signaled %d\n", WTERMSIG(status));
  else
    snprintf(how, sizeof how, "exited %d\n", WEXITSTATUS(status));
  write_record(run_dir, "exit", how);
  if (!WIFSIGNALED(status)) return WEXITSTATUS(status);
  // End by the same signal, without a core file of the shim's own.
  const int sig = WTERMSIG(status);
  const struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  signal(sig, SIG_DFL);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, sig);
  sigprocmask(SIG_UNBLOCK, &only, NULL);
  raise(sig);
  return 128 + sig;
}
