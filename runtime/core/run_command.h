#pragma once
// Running a short-lived host command to completion (image builds: npm/yarn/pnpm installs and
// build commands) with Boost.Process v2: argv, working directory, environment, output to a
// descriptor, to a callback or captured up to a cap, a timeout that kills its process group,
// and its exit status. Containers, hooks and probes are not started here: see
// supervisor/process.h and docs/ARCHITECTURE.md ("Departures"). No Boost header is included
// here on purpose: Asio is heavy, so it is compiled in run_command.cpp alone. Any thread.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ticketctl {

struct RunSpec {
  // argv[0] is searched on the PATH of the environment below (the caller's unless `env` sets
  // one); a name with a slash is taken as given.
  std::vector<std::string> argv;
  std::filesystem::path dir;                             // empty: the caller's
  std::vector<std::pair<std::string, std::string>> env;  // set over the caller's environment
  // stdout and stderr go to this descriptor; -1: through a pipe, to `on_output` (chunks as they
  // arrive) and into RunResult::output (its first `capture_limit` bytes). stdin is /dev/null.
  int output_fd = -1;
  std::function<void(std::string_view chunk)> on_output;
  size_t capture_limit = 0;
  // Zero: none. Past it the command's process group gets SIGKILL (implies own_group).
  std::chrono::milliseconds timeout{0};
  // A process group of its own rather than the caller's (where a terminal's Ctrl-C reaches it as
  // any foreground job). With `group`, also its id, stored there while it runs so that another
  // thread can signal the whole group, and 0 afterwards.
  bool own_group = false;
  std::atomic<pid_t>* group = nullptr;
};

struct RunResult {
  // The command's exit status; 128+N when it was killed by signal N (a shell's convention: the
  // status comes from the shell that runs it, see run_command). -1: it did not start (`error`).
  int exit_status = -1;
  // N when the command's process (group) was killed by signal N before it could report a status
  // (the timeout's SIGKILL, or another process stopping it); 0 otherwise.
  int term_signal = 0;
  bool timed_out = false;
  std::string output;  // captured output, at most capture_limit bytes
  bool truncated = false;
  std::string error;  // why it did not start, e.g. "npm: not found in PATH (/usr/bin:/bin)"
};

// Runs `spec` and waits for it (and for its output to end). The command runs under /bin/sh,
// which reports its status through a pipe of its own: a subreaper that collects every child
// (the control plane's kubelet) may take the shell's own status before we can, the pipe's it
// cannot. The command gets default signal dispositions and an empty signal mask.
RunResult run_command(const RunSpec& spec);

// Where `program` would be found on `path` (colon-separated); empty when nowhere.
std::string find_on_path(const std::string& program, const std::string& path);

}  // namespace ticketctl
