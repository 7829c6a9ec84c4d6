#pragma once
// Every process one container started, wherever it went. A program may leave its process group
// and session (setsid), double-fork so that its parent is gone, and ignore SIGTERM; stopping the
// container must still end all of it. Where the container has a tracking cgroup
// (TrackingCgroups), that group is the truth. Where none is usable, the processes are found by
// walking /proc: the descendants of the container's first process (its shim), the processes it
// was seen to have before (a setsid'd grandchild whose parent died is reparented to the control
// plane, the subreaper, or to init when no control plane runs), and any process still holding
// the container's stdout/stderr FIFOs, which everything it starts inherits. Any thread; an
// object is used by one thread at a time.

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <vector>

namespace ticketctl::supervisor {

// One live process as /proc shows it.
struct ProcessEntry {
  pid_t pid = 0, ppid = 0;
  unsigned long long start_ticks = 0;
};

// Every process on the machine that is not a zombie.
std::vector<ProcessEntry> list_processes();

// `root` and everything below it in `all` (by parent pid).
std::vector<pid_t> descendants(pid_t root, const std::vector<ProcessEntry>& all);

class ContainerProcesses {
 public:
  ContainerProcesses() = default;
  // `leader`: the container's first process (its shim) with its start time, 0 when gone;
  // `cgroup`: its tracking cgroup, empty when none; `run_dir`: holds its stdout/stderr FIFOs.
  ContainerProcesses(pid_t leader, unsigned long long leader_start, std::filesystem::path cgroup,
                     const std::filesystem::path& run_dir);
  // Everything under this process (the control plane at its end): its descendants, whatever
  // container they came from.
  static ContainerProcesses everything_under(pid_t root);

  // The container's live processes now (never this process itself).
  std::vector<pid_t> members();
  // Sends `sig` to each member; returns how many there were.
  int signal(int sig);
  // SIGKILL to every member (the cgroup's kill when there is one); returns how many there were.
  // Forks race a kill: call again until it returns 0.
  int kill();
  // Without a cgroup: remembers the current members, so a process whose parent dies (and that is
  // reparented away from the container) is still known. `all` is one list_processes() shared by
  // every container.
  void remember(const std::vector<ProcessEntry>& all);
  // The run ended: from now on only the processes it has now (and what they start) are its; its
  // pid and FIFOs may soon be the next run's.
  void forget_run();
  const std::filesystem::path& cgroup() const { return cgroup_; }

 private:
  std::vector<pid_t> members(const std::vector<ProcessEntry>& all) const;
  pid_t leader_ = 0;
  unsigned long long leader_start_ = 0;
  std::filesystem::path cgroup_;
  std::vector<std::filesystem::path> fifos_;
  bool everything_ = false;  // everything_under(): the root itself is not a member
  std::map<pid_t, unsigned long long> known_;  // pid -> start ticks, seen as members before
};

}  // namespace ticketctl::supervisor
