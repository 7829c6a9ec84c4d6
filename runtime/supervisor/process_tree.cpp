#include "runtime/supervisor/process_tree.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <set>

#include "runtime/supervisor/cgroup.h"

namespace ticketctl::supervisor {
namespace fs = std::filesystem;
namespace {

// /proc/PID/stat read with one syscall: this runs over every process of the machine while a
// container stops.
bool read_stat(pid_t pid, ProcessEntry& entry, char& state) {
  char path[64], buf[1024];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (!p || p[1] != ' ') return false;
  p += 2;
  state = *p;
  int ppid = 0;
  if (std::sscanf(p + 1, " %d", &ppid) != 1) return false;
  // Field 22 (start time) is 19 fields after field 3 (state).
  for (int field = 3; field < 22 && p; ++field) {
    p = std::strchr(p, ' ');
    if (p) ++p;
  }
  unsigned long long start = 0;
  if (!p || std::sscanf(p, "%llu", &start) != 1) return false;
  entry = {pid, ppid, start};
  return true;
}

bool alive(pid_t pid, unsigned long long* start = nullptr) {
  ProcessEntry e;
  char state = 0;
  if (!read_stat(pid, e, state) || state == 'Z' || state == 'X') return false;
  if (start) *start = e.start_ticks;
  return true;
}

// Whether the process's stdout or stderr is one of `fifos`.
bool holds_one_of(pid_t pid, const std::vector<fs::path>& fifos) {
  for (int fd : {1, 2}) {
    char link[64], target[4096];
    std::snprintf(link, sizeof link, "/proc/%d/fd/%d", static_cast<int>(pid), fd);
    const ssize_t n = ::readlink(link, target, sizeof target - 1);
    if (n <= 0) continue;
    const std::string_view held(target, static_cast<size_t>(n));
    for (const fs::path& f : fifos)
      if (held == f.native()) return true;
  }
  return false;
}

}  // namespace

std::vector<ProcessEntry> list_processes() {
  std::vector<ProcessEntry> all;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    ProcessEntry e;
    char state = 0;
    if (read_stat(static_cast<pid_t>(std::atoi(name.c_str())), e, state) && state != 'Z' &&
        state != 'X')
      all.push_back(e);
  }
  return all;
}

std::vector<pid_t> descendants(pid_t root, const std::vector<ProcessEntry>& all) {
  std::multimap<pid_t, pid_t> children;
  bool root_alive = false;
  for (const ProcessEntry& e : all) {
    children.emplace(e.ppid, e.pid);
    root_alive = root_alive || e.pid == root;
  }
  std::vector<pid_t> found;
  if (!root_alive) return found;
  found.push_back(root);
  // Breadth first; a pid appears once (the parent links form a tree).
  for (size_t i = 0; i < found.size(); ++i) {
    auto [first, last] = children.equal_range(found[i]);
    for (auto it = first; it != last; ++it) found.push_back(it->second);
  }
  return found;
}

ContainerProcesses::ContainerProcesses(pid_t leader, unsigned long long leader_start,
                                       fs::path cgroup, const fs::path& run_dir)
    : leader_(leader), leader_start_(leader_start), cgroup_(std::move(cgroup)) {
  // As /proc/PID/fd shows them: absolute, symbolic links resolved.
  for (const char* name : {"stdout", "stderr"}) {
    std::error_code ec;
    fs::path p = fs::weakly_canonical(run_dir / name, ec);
    fifos_.push_back(ec ? run_dir / name : p);
  }
}

ContainerProcesses ContainerProcesses::everything_under(pid_t root) {
  ContainerProcesses p;
  p.leader_ = root;
  p.everything_ = true;
  return p;
}

std::vector<pid_t> ContainerProcesses::members(const std::vector<ProcessEntry>& all) const {
  std::set<pid_t> found;
  const pid_t self = ::getpid();
  if (everything_) {
    for (pid_t pid : descendants(leader_, all))
      if (pid != leader_) found.insert(pid);
    return {found.begin(), found.end()};
  }
  const bool leader_alive = std::any_of(all.begin(), all.end(), [&](const ProcessEntry& e) {
    return e.pid == leader_ && e.start_ticks == leader_start_;
  });
  std::vector<pid_t> roots;
  if (leader_alive) roots.push_back(leader_);
  for (const ProcessEntry& e : all) {
    auto k = known_.find(e.pid);
    const bool known = k != known_.end() && k->second == e.start_ticks;
    // While the shim (a subreaper) lives, everything is below it; the FIFOs, a look at every
    // process's descriptors, are for when it is gone.
    if (e.pid != self && (known || (!leader_alive && holds_one_of(e.pid, fifos_))))
      roots.push_back(e.pid);
  }
  for (pid_t root : roots)
    for (pid_t pid : descendants(root, all))
      if (pid != self) found.insert(pid);
  return {found.begin(), found.end()};
}

std::vector<pid_t> ContainerProcesses::members() {
  if (!cgroup_.empty()) {
    std::vector<pid_t> pids = cgroup_members(cgroup_);
    std::erase_if(pids, [](pid_t pid) { return pid == ::getpid() || !alive(pid); });
    return pids;
  }
  if (leader_ == 0 && fifos_.empty() && known_.empty()) return {};  // nothing to look for
  return members(list_processes());
}

int ContainerProcesses::signal(int sig) {
  const std::vector<pid_t> pids = members();
  for (pid_t pid : pids) ::kill(pid, sig);
  return static_cast<int>(pids.size());
}

int ContainerProcesses::kill() {
  if (!cgroup_.empty()) {
    const size_t n = members().size();
    if (n > 0) kill_cgroup(cgroup_);
    return static_cast<int>(n);
  }
  // The shim (a subreaper) is killed last: while it lives, what the others fork meanwhile is
  // still below it, found by the next look.
  std::set<pid_t> killed;
  bool leader_found = false;
  for (int round = 0; round < 3; ++round) {
    std::vector<pid_t> pids = members();
    leader_found = leader_found || std::count(pids.begin(), pids.end(), leader_) > 0;
    std::erase_if(pids, [&](pid_t pid) { return pid == leader_ || killed.count(pid); });
    if (pids.empty()) break;
    for (pid_t pid : pids) {
      ::kill(pid, SIGKILL);
      killed.insert(pid);
    }
  }
  if (leader_found && leader_ > 0 && alive(leader_)) {
    ::kill(leader_, SIGKILL);
    killed.insert(leader_);
  }
  return static_cast<int>(killed.size());
}

void ContainerProcesses::remember(const std::vector<ProcessEntry>& all) {
  if (!cgroup_.empty() || everything_) return;
  // Forget what is gone, so a recycled pid is never taken for a member.
  std::map<pid_t, unsigned long long> live;
  for (const ProcessEntry& e : all) live.emplace(e.pid, e.start_ticks);
  std::erase_if(known_, [&](const auto& k) {
    auto it = live.find(k.first);
    return it == live.end() || it->second != k.second;
  });
  for (pid_t pid : members(all)) known_[pid] = live[pid];
}

void ContainerProcesses::forget_run() {
  if (!cgroup_.empty() || everything_) return;  // a cgroup is this run's alone
  remember(list_processes());
  leader_ = 0;
  fifos_.clear();
}

}  // namespace ticketctl::supervisor
