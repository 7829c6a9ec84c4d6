// `ticketctl down`: signal the control plane that holds the state directory's lock and wait for
// the lock to be released (its exit), killing it and its containers from outside when it overruns
// the longest grace period.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "runtime/daemon/control_plane.h"
#include "runtime/supervisor/kubelet.h"

namespace ticketctl::daemon {
namespace fs = std::filesystem;
namespace {

// How long a stopping control plane may take: its containers' longest grace period (each
// recorded in its run's exec.json), a preStop hook's two extra seconds, and time for the rest.
std::chrono::seconds stop_deadline(const fs::path& pods_dir) {
  int longest = 0;
  for (const supervisor::RecordedRun& r : supervisor::recorded_runs(pods_dir)) {
    const Json& grace = json_at(r.exec, "gracePeriodSeconds");
    longest = std::max(longest, grace.is_number_integer() ? grace.get<int>() : 30);
  }
  return std::chrono::seconds(longest + 15);
}

void print_killed(const std::vector<std::string>& lines, std::FILE* report) {
  for (const std::string& line : lines) std::fprintf(report, "%s\n", line.c_str());
}

}  // namespace

Result<bool> stop_control_plane(const StateDir& dir, std::FILE* report) {
  const fs::path pods_dir = dir.root / "pods";
  const int fd = ::open(dir.lock().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    if (fd >= 0) ::close(fd);
    std::fprintf(report, "no control plane is running for %s\n", dir.root.c_str());
    // One that was killed leaves its pods running (for the next `up` to adopt): `down` means
    // none should run.
    const supervisor::LeftoverStop stopped = supervisor::stop_leftover_containers(pods_dir);
    if (const int n = stopped.containers; n > 0)
      std::fprintf(report, "stopped %d container%s it left running\n", n, n == 1 ? "" : "s");
    print_killed(stopped.killed, report);
    return false;
  }
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  const pid_t pid = n > 0 ? static_cast<pid_t>(std::atol(buf)) : 0;
  if (pid <= 0) {
    ::close(fd);
    return Error{ErrorCode::Internal,
                 fmt::format("cannot read the control plane's pid from {}", dir.lock().string())};
  }
  std::error_code ec;
  fs::remove(dir.stop_report(), ec);  // a report left by a stop nobody printed is stale
  if (::kill(pid, SIGTERM) != 0) {
    ::close(fd);
    return Error{ErrorCode::Internal,
                 fmt::format("cannot signal pid {}: {}", pid, std::strerror(errno))};
  }
  // The lock is released when the control plane exits: waiting for it is waiting for the exit.
  auto wait_for_exit = [fd](std::chrono::steady_clock::duration limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::flock(fd, LOCK_SH | LOCK_NB) == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  const std::chrono::seconds limit = stop_deadline(pods_dir);
  if (!wait_for_exit(limit)) {
    // It should have ended every container by now. Whatever holds it, `down` must end and leave
    // nothing running: the control plane is killed and its containers stopped from outside.
    ::kill(pid, SIGKILL);
    const bool gone = wait_for_exit(std::chrono::seconds(5));
    ::close(fd);
    fs::remove(dir.apiserver(), ec);
    const supervisor::LeftoverStop stopped = supervisor::stop_leftover_containers(pods_dir, true);
    print_killed(stopped.killed, report);
    const int n = stopped.containers;
    return Error{
        ErrorCode::Internal,
        fmt::format("the control plane (pid {}) did not stop within {}s and {}; {}", pid,
                    limit.count(), gone ? "was killed" : "did not even end on SIGKILL within 5s",
                    n == 0 ? std::string("no container was left running")
                           : fmt::format("{} container{} it left {} killed", n, n == 1 ? "" : "s",
                                         n == 1 ? "was" : "were"))};
  }
  ::close(fd);
  std::fprintf(report, "control plane (pid %d) stopped\n", pid);
  std::ifstream killed(dir.stop_report());
  for (std::string line; std::getline(killed, line);) std::fprintf(report, "%s\n", line.c_str());
  fs::remove(dir.stop_report(), ec);
  return true;
}

}  // namespace ticketctl::daemon
