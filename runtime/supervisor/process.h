#pragma once
// Starting and signalling a container's process, tini-style: the child gets its own session and
// process group (so `npm start` -> sh -> node is signalled as one), stdin from /dev/null,
// stdout/stderr into pipes the supervisor reads, a clean signal mask and no inherited
// descriptors. Any thread; the caller reaps.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/supervisor/env.h"

namespace ticketctl::supervisor {

struct SpawnSpec {
  std::vector<std::string> argv;
  EnvList env;
  std::filesystem::path working_dir;
};

struct Spawned {
  pid_t pid = -1;      // also the process group id
  int stdout_fd = -1;  // read ends, non-blocking, close-on-exec
  int stderr_fd = -1;
};

// Fails (with the reason the kubelet would report, e.g. `exec: "nodee": executable file not found
// in $PATH`) when the program cannot be executed; the child never runs in that case.
Result<Spawned> spawn_process(const SpawnSpec& spec);

// The program as a container would find it: a path as given (relative to `working_dir`), a bare
// name searched in `path` (the container's PATH, not the caller's). The error is the kubelet's
// wording: `exec: "nodee": executable file not found in $PATH`.
Result<std::string> find_program(const std::string& name, const std::string& path,
                                 const std::filesystem::path& working_dir);

// Sends `sig` to the whole process group; false when the group no longer exists.
bool signal_group(pid_t pgid, int sig);

// The process's start time in clock ticks since boot (/proc/PID/stat field 22); 0 when gone.
// With the pid it identifies a process across control-plane restarts.
unsigned long long process_start_time(pid_t pid);

}  // namespace ticketctl::supervisor
