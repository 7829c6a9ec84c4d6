#pragma once
// Starting and signalling a container's process, tini-style: the child gets its own session and
// process group (so `npm start` -> sh -> node is signalled as one), stdin from /dev/null,
// stdout/stderr into pipes the supervisor reads, a clean signal mask and no inherited
// descriptors. `ticketctl exec` starts its command here too (SpawnSpec::session). Any thread;
// the caller reaps.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/supervisor/env.h"

namespace ticketctl::supervisor {

struct SpawnSpec {
  std::vector<std::string> argv;
  EnvList env;
  std::filesystem::path working_dir;
  // Output into these FIFOs (made anew) instead of anonymous pipes. The container holds its
  // ends open read-write, so it never sees EPIPE or SIGPIPE while nobody reads: it outlives the
  // control plane, whose successor reopens the FIFOs by path (open_output_fifo). While nobody
  // reads, a container that fills the FIFO's buffer waits in write() until somebody does.
  std::filesystem::path stdout_fifo, stderr_fifo;
  // Open cgroup.procs files (its tracking and its memory cgroup, which are one file in a v2
  // hierarchy that limits memory, two in v1): the child writes "0" into each before exec, so the
  // container and everything it starts are in those cgroups. -1: none.
  int cgroup_procs_fds[2] = {-1, -1};
  // stdout and stderr to /dev/null, no pipes (lifecycle hooks, whose output nobody reads).
  bool discard_output = false;
  // `ticketctl exec`, a command the user runs in a container's context from a terminal: the
  // caller's stdout and stderr (and stdin with inherit_stdin) rather than pipes or FIFOs, and
  // no new session: OwnGroup (signals sent to the CLI are passed to the group) or Caller (the
  // terminal's foreground group, where Ctrl-C reaches it and it may read the terminal).
  bool inherit_output = false, inherit_stdin = false;
  enum class Session { New, OwnGroup, Caller } session = Session::New;
  // Start the program under this ticketctl-shim (runtime/supervisor/shim/shim.c), which records
  // the run in `run_dir` (pid file before the program starts, exit status when it ends): the
  // pid (and group) is then the shim's. Empty: none.
  std::filesystem::path shim, run_dir;
};

// How a run was started, as its exec.json records it ("argv", "env" as [{name, value}],
// "workingDir"): what `ticketctl exec` runs commands with, and what a control plane that adopts
// the run restores. Output, shim and cgroup are not part of it.
Json spawn_record(const SpawnSpec& spec);
SpawnSpec spawn_spec_from_record(const Json& record);

struct Spawned {
  pid_t pid = -1;      // also the process group id, unless the session is the caller's
  int stdout_fd = -1;  // read ends, non-blocking, close-on-exec; -1 with discard_output or
                       // inherit_output
  int stderr_fd = -1;
};

// Fails (with the reason the kubelet would report, e.g. `exec: "nodee": executable file not found
// in $PATH`) when the program cannot be executed; the child never runs in that case.
// `exec_errno`, when given, is the errno that stopped it (ENOENT when not found), 0 otherwise.
Result<Spawned> spawn_process(const SpawnSpec& spec, int* exec_errno = nullptr);

// The program as a container would find it: a path as given (relative to `working_dir`), a bare
// name searched in `path` (the container's PATH, not the caller's). The error is the kubelet's
// wording: `exec: "nodee": executable file not found in $PATH`.
Result<std::string> find_program(const std::string& name, const std::string& path,
                                 const std::filesystem::path& working_dir);

// The read end of a container's output FIFO, non-blocking and close-on-exec: the end a control
// plane that adopts a running container reads from. -1 (errno set) when it cannot be opened.
int open_output_fifo(const std::filesystem::path& fifo);

// Children that a thread other than the reaper waits for (exec probes on their own threads),
// while the reaper collects every child with waitpid(-1) as a subreaper must. Whoever collects
// a registered child first records its status here; the waiting thread reads it. A child is
// registered under the lock it is spawned under, so the reaper never sees an unknown one.
class ChildExits {
 public:
  Result<Spawned> spawn(const SpawnSpec& spec);
  // The reaper: true when `pid` was registered here (its status is then kept for the waiter).
  bool collected(pid_t pid, int status);
  // The waiter: the child's wait status once it ended, collecting it itself when nobody else
  // does (the reaper may be gone); nullopt when it has not ended by `deadline`. Forgets it once
  // its status is returned.
  std::optional<int> wait(pid_t pid, std::chrono::steady_clock::time_point deadline);
  // The waiter gives up on `pid`: it is the reaper's again.
  void forget(pid_t pid);

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<pid_t, std::optional<int>> children_;
};

// Sends `sig` to the whole process group; false when the group no longer exists.
bool signal_group(pid_t pgid, int sig);

// The process's start time in clock ticks since boot (/proc/PID/stat field 22); 0 when gone.
// With the pid it identifies a process across control-plane restarts.
unsigned long long process_start_time(pid_t pid);

}  // namespace ticketctl::supervisor
