#pragma once
// A command run for `kubectl exec` in a container's context (its recorded environment, working
// directory and, through the environment, its pod IP and the preload library): stdin, stdout and
// stderr as pipes, or one pseudo-terminal for a TTY. The kubelet reaps every SIGCHLD child of
// the control plane with waitpid(-1), so the command runs under a small waiter, cloned without
// an exit signal (which waitpid(-1) does not see) and never exec'd, that exits with the
// command's status: the caller learns it from the waiter's pidfd.
// Threads: any; each ExecProcess belongs to the one session that started it.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/supervisor/env.h"

namespace ticketctl::api {

struct ExecSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in the env's PATH, as a container would
  supervisor::EnvList env;
  std::filesystem::path working_dir;
  bool tty = false;         // one PTY for stdin, stdout and stderr; the command leads its session
  bool open_stdin = false;  // without it stdin is /dev/null
  // The terminal's size when the command starts (the client's first resize message); 0 leaves
  // the kernel's default of 0x0.
  unsigned short columns = 0, rows = 0;
};

struct ExecProcess {
  pid_t pid = -1;  // the waiter's: also the process group of the command
  int pidfd = -1;  // readable once the process has exited
  // Non-blocking, close-on-exec ends for this side; -1 where not used. With a TTY, stdout_fd is
  // the PTY's master and stdin_fd a duplicate of it (so closing stdin is a separate step).
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
};

// Starts the command. Fails (nothing left running) when it cannot be executed, with the
// kubelet's words for it; `exit_code` is then the shell's (127 not found, 126 not executable).
Result<ExecProcess> start_exec(const ExecSpec& spec, int& exit_code);

// The exit status of a process whose pidfd became readable (128+N when killed by signal N); it
// also closes the pidfd. -1 if it cannot be read.
int collect_exit(ExecProcess& p);

// Sets the terminal size of a TTY session (from the resize channel).
void resize_tty(int master_fd, unsigned short width, unsigned short height);

}  // namespace ticketctl::api
