#include "runtime/supervisor/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <tuple>
#include <utility>

#include "runtime/manifest/names.h"

namespace ticketctl::supervisor {
namespace fs = std::filesystem;
namespace {

constexpr const char* kPodsDir = "ticketctl-pods";
constexpr const char* kSupervisorDir = "ticketctl-supervisor";

// Without exceptions: an unreadable path counts as missing.
bool present(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Like the shell's `echo text > path`: cgroup files take one write, and the kernel's verdict
// (EBUSY, EINVAL, ...) comes from write(). Returns 0 or the errno.
int write_file(const fs::path& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int err = n == static_cast<ssize_t>(text.size()) ? 0 : (n < 0 ? errno : EIO);
  ::close(fd);
  return err;
}

// 0, or the errno; an existing directory is fine.
int make_dir(const fs::path& path) {
  return ::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST ? 0 : errno;
}

bool has_word(const std::optional<std::string>& text, std::string_view word) {
  if (!text) return false;
  std::istringstream words(*text);
  for (std::string w; words >> w;)
    if (w == word) return true;
  return false;
}

// The path of the /proc/self/cgroup line ("id:controllers:path") whose controllers match.
std::optional<fs::path> own_group(const std::optional<std::string>& self_cgroup,
                                  const std::function<bool(std::string_view)>& matches) {
  if (!self_cgroup) return std::nullopt;
  std::istringstream lines(*self_cgroup);
  for (std::string line; std::getline(lines, line);) {
    const size_t first = line.find(':');
    const size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    if (matches(std::string_view(line).substr(first + 1, second - first - 1)))
      return fs::path(line.substr(second + 1));
  }
  return std::nullopt;
}

bool only_this_process(const std::optional<std::string>& procs) {
  if (!procs) return true;
  std::istringstream pids(*procs);
  for (long pid; pids >> pid;)
    if (pid != ::getpid()) return false;
  return true;
}

bool has_processes(const fs::path& group) {
  const std::optional<std::string> procs = read_file(group / "cgroup.procs");
  return procs && procs->find_first_not_of(" \n") != std::string::npos;
}

// "memory" in the group's cgroup.subtree_control, so its children get memory.max.
int enable_memory(const fs::path& group) {
  const fs::path control = group / "cgroup.subtree_control";
  if (has_word(read_file(control), "memory")) return 0;
  return write_file(control, "+memory");
}

Error unavailable(std::string reason) {
  return Error{ErrorCode::Internal, std::move(reason)};
}

// The base for pods under our own v2 group, or why there is none.
Result<fs::path> prepare_v2(const fs::path& mount_root, const std::optional<std::string>& self) {
  const fs::path unified =
      present(mount_root / "cgroup.controllers") ? mount_root : mount_root / "unified";
  if (!present(unified / "cgroup.controllers")) return unavailable("cgroup v2 is not mounted");
  std::optional<fs::path> own =
      own_group(self, [](std::string_view controllers) { return controllers.empty(); });
  if (!own) return unavailable("cgroup v2 has no group for this process");
  // A second detect() in this process finds it in the leaf the first one moved it to.
  if (own->filename() == kSupervisorDir) own = own->parent_path();
  const fs::path dir = unified / own->relative_path();
  if (!has_word(read_file(dir / "cgroup.controllers"), "memory"))
    return unavailable(
        fmt::format("cgroup v2 has no memory controller delegated to {}", own->string()));

  int err = enable_memory(dir);
  if (err == EBUSY) {
    // No internal processes: <own> can hand memory to children only once it holds no process.
    // Ours can move to a leaf of its own; anyone else's (a login shell's scope) is not ours to
    // move.
    if (!only_this_process(read_file(dir / "cgroup.procs")))
      return unavailable(fmt::format(
          "cgroup v2 group {} holds other processes (run ticketctl in a group of its own: "
          "systemd-run --user --scope -p Delegate=yes)",
          own->string()));
    const fs::path leaf = dir / kSupervisorDir;
    err = make_dir(leaf);
    if (err == 0) err = write_file(leaf / "cgroup.procs", "0");
    if (err == 0) err = enable_memory(dir);
  }
  if (err != 0)
    return unavailable(fmt::format("cgroup v2 group {} cannot enable memory for children: {}",
                                   own->string(), std::strerror(err)));
  const fs::path base = dir / kPodsDir;
  err = make_dir(base);
  if (err == 0) err = enable_memory(base);
  if (err != 0)
    return unavailable(fmt::format("cgroup v2 group {} cannot be prepared: {}", base.string(),
                                   std::strerror(err)));
  return base;
}

// The base for pods under our own v1 memory group, or why there is none.
Result<fs::path> prepare_v1(const fs::path& mount_root, const std::optional<std::string>& self) {
  const fs::path hierarchy = mount_root / "memory";
  const std::optional<fs::path> own = own_group(self, [](std::string_view controllers) {
    std::istringstream names{std::string(controllers)};
    for (std::string name; std::getline(names, name, ',');)
      if (name == "memory") return true;
    return false;
  });
  if (!own || !present(hierarchy)) return unavailable("cgroup v1 memory is not mounted");
  const fs::path dir = hierarchy / own->relative_path();
  if (!present(dir / "memory.limit_in_bytes"))
    return unavailable(fmt::format("cgroup v1 memory group {} is not under {}", own->string(),
                                   hierarchy.string()));
  const fs::path base = dir / kPodsDir;
  if (const int err = make_dir(base); err != 0)
    return unavailable(fmt::format("cgroup v1 memory is not writable (mkdir {}: {})", base.string(),
                                   std::strerror(err)));
  return base;
}

// memsw (memory + swap) may never be below limit_in_bytes, so raising a reused group's limit
// sets memsw first.
int set_v1_limit(const fs::path& group, const std::string& limit) {
  const fs::path memory = group / "memory.limit_in_bytes";
  const fs::path memsw = group / "memory.memsw.limit_in_bytes";
  if (!present(memsw)) return write_file(memory, limit);
  int err = write_file(memory, limit);
  if (err == EINVAL) {
    err = write_file(memsw, limit);
    return err != 0 ? err : write_file(memory, limit);
  }
  return err != 0 ? err : write_file(memsw, limit);
}

bool safe_component(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.size() <= 255 &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

}  // namespace

MemoryCgroups MemoryCgroups::detect(const fs::path& mount_root, const fs::path& self_cgroup) {
  const std::optional<std::string> self = read_file(self_cgroup);
  MemoryCgroups cgroups;
  Result<fs::path> v2 = prepare_v2(mount_root, self);
  if (v2.ok()) {
    cgroups.version_ = 2;
    cgroups.base_ = std::move(v2.value());
    return cgroups;
  }
  Result<fs::path> v1 = prepare_v1(mount_root, self);
  if (v1.ok()) {
    cgroups.version_ = 1;
    cgroups.base_ = std::move(v1.value());
    return cgroups;
  }
  cgroups.reason_ = v2.error().message + "; " + v1.error().message;
  return cgroups;
}

Result<fs::path> MemoryCgroups::create(const std::string& name, int64_t limit_bytes) const {
  if (!available()) return Error{ErrorCode::Internal, "memory cgroups not available: " + reason_};
  if (!safe_component(name))
    return Error{ErrorCode::Invalid, fmt::format("invalid cgroup name {:?}", name)};
  if (limit_bytes <= 0)
    return Error{ErrorCode::Invalid, fmt::format("invalid memory limit {}", limit_bytes)};
  const fs::path group = base_ / name;
  if (::mkdir(group.c_str(), 0755) != 0) {
    if (errno != EEXIST)
      return Error{ErrorCode::Internal,
                   fmt::format("mkdir {}: {}", group.string(), std::strerror(errno))};
    if (has_processes(group))
      return Error{ErrorCode::AlreadyExists,
                   fmt::format("cgroup {} still has processes", group.string())};
  }
  const std::string limit = std::to_string(limit_bytes);
  int err = 0;
  if (version_ == 2) {
    err = write_file(group / "memory.max", limit);
    if (err == 0 && present(group / "memory.swap.max"))
      err = write_file(group / "memory.swap.max", "0");
    // As the kubelet does (Kubernetes 1.28+): an OOM kills the whole container, not one of its
    // processes, so `sh -c node` cannot carry on without node.
    if (err == 0 && present(group / "memory.oom.group"))
      err = write_file(group / "memory.oom.group", "1");
  } else {
    err = set_v1_limit(group, limit);
  }
  if (err != 0) {
    ::rmdir(group.c_str());
    return Error{ErrorCode::Internal, fmt::format("setting memory limit {} on {}: {}", limit,
                                                  group.string(), std::strerror(err))};
  }
  return group;
}

Result<int> MemoryCgroups::open_procs(const fs::path& group) {
  const fs::path procs = group / "cgroup.procs";
  const int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return Error{ErrorCode::Internal,
                 fmt::format("open {}: {}", procs.string(), std::strerror(errno))};
  return fd;
}

int MemoryCgroups::oom_kills(const fs::path& group) {
  for (const char* file : {"memory.events", "memory.oom_control"}) {
    const std::optional<std::string> text = read_file(group / file);
    if (!text) continue;
    std::istringstream fields(*text);
    std::string key;
    for (long long value = 0; fields >> key >> value;)
      if (key == "oom_kill") return static_cast<int>(value);
  }
  return 0;
}

bool MemoryCgroups::remove(const fs::path& group) {
  return ::rmdir(group.c_str()) == 0 || errno == ENOENT;
}

namespace {

// <own>/ticketctl-pods in the v2 hierarchy, or why it cannot hold containers.
Result<fs::path> prepare_tracking_v2(const fs::path& mount_root,
                                     const std::optional<std::string>& self) {
  const fs::path unified =
      present(mount_root / "cgroup.controllers") ? mount_root : mount_root / "unified";
  if (!present(unified / "cgroup.controllers")) return unavailable("cgroup v2 is not mounted");
  std::optional<fs::path> own =
      own_group(self, [](std::string_view controllers) { return controllers.empty(); });
  if (!own) return unavailable("cgroup v2 has no group for this process");
  if (own->filename() == kSupervisorDir) own = own->parent_path();
  const fs::path dir = unified / own->relative_path();
  // Moving a process between two groups takes write access to their common ancestor's procs.
  if (::access((dir / "cgroup.procs").c_str(), W_OK) != 0)
    return unavailable(
        fmt::format("cgroup v2 group {} is not delegated to this user", own->string()));
  const fs::path base = dir / kPodsDir;
  if (const int err = make_dir(base); err != 0)
    return unavailable(
        fmt::format("cgroup v2 group {} is not writable: {}", base.string(), std::strerror(err)));
  return base;
}

Result<fs::path> prepare_tracking_freezer(const fs::path& mount_root,
                                          const std::optional<std::string>& self) {
  const fs::path hierarchy = mount_root / "freezer";
  const std::optional<fs::path> own = own_group(self, [](std::string_view controllers) {
    std::istringstream names{std::string(controllers)};
    for (std::string name; std::getline(names, name, ',');)
      if (name == "freezer") return true;
    return false;
  });
  if (!own || !present(hierarchy / "cgroup.procs"))
    return unavailable("cgroup v1 freezer is not mounted");
  const fs::path base = hierarchy / own->relative_path() / kPodsDir;
  if (const int err = make_dir(base); err != 0)
    return unavailable(fmt::format("cgroup v1 freezer is not writable (mkdir {}: {})",
                                   base.string(), std::strerror(err)));
  return base;
}

// Frozen (true) or thawed; waits, briefly, until the kernel says the group is frozen.
void freeze(const fs::path& group, bool frozen) {
  const bool v2 = present(group / "cgroup.freeze");
  if (v2)
    write_file(group / "cgroup.freeze", frozen ? "1" : "0");
  else
    write_file(group / "freezer.state", frozen ? "FROZEN" : "THAWED");
  if (!frozen) return;
  // A task in the middle of fork() is frozen once the fork is done; 100 looks at 1 ms bound it.
  for (int i = 0; i < 100; ++i) {
    const std::optional<std::string> state =
        read_file(group / (v2 ? "cgroup.events" : "freezer.state"));
    if (!state ||
        (v2 ? state->find("frozen 1") != std::string::npos : state->rfind("FROZEN", 0) == 0))
      return;
    ::usleep(1000);
  }
}

}  // namespace

TrackingCgroups TrackingCgroups::detect(const fs::path& mount_root, const fs::path& self_cgroup,
                                        std::string_view force) {
  TrackingCgroups cgroups;
  if (force == "none") {
    cgroups.reason_ = "TICKETCTL_PROCESS_TRACKING=none";
    return cgroups;
  }
  const std::optional<std::string> self = read_file(self_cgroup);
  std::string reasons;
  if (force.empty() || force == "cgroup2") {
    Result<fs::path> v2 = prepare_tracking_v2(mount_root, self);
    if (v2.ok()) {
      cgroups.version_ = 2;
      cgroups.base_ = std::move(v2.value());
      return cgroups;
    }
    reasons = v2.error().message;
  }
  if (force.empty() || force == "freezer") {
    Result<fs::path> v1 = prepare_tracking_freezer(mount_root, self);
    if (v1.ok()) {
      cgroups.version_ = 1;
      cgroups.base_ = std::move(v1.value());
      return cgroups;
    }
    reasons += (reasons.empty() ? "" : "; ") + v1.error().message;
  }
  cgroups.reason_ =
      reasons.empty() ? fmt::format("unknown TICKETCTL_PROCESS_TRACKING {:?}", force) : reasons;
  return cgroups;
}

Result<fs::path> TrackingCgroups::create(const std::string& name) const {
  if (!available()) return Error{ErrorCode::Internal, "no cgroup for containers: " + reason_};
  if (!safe_component(name))
    return Error{ErrorCode::Invalid, fmt::format("invalid cgroup name {:?}", name)};
  const fs::path group = base_ / name;
  if (::mkdir(group.c_str(), 0755) != 0) {
    if (errno != EEXIST)
      return Error{ErrorCode::Internal,
                   fmt::format("mkdir {}: {}", group.string(), std::strerror(errno))};
    if (has_processes(group))
      return Error{ErrorCode::AlreadyExists,
                   fmt::format("cgroup {} still has processes", group.string())};
  }
  return group;
}

std::vector<pid_t> cgroup_members(const fs::path& group) {
  std::vector<pid_t> pids;
  if (group.empty()) return pids;
  std::ifstream in(group / "cgroup.procs");
  for (long pid; in >> pid;)
    if (pid > 0) pids.push_back(static_cast<pid_t>(pid));
  return pids;
}

void kill_cgroup(const fs::path& group) {
  if (group.empty()) return;
  if (present(group / "cgroup.kill") && write_file(group / "cgroup.kill", "1") == 0) return;
  freeze(group, true);
  for (pid_t pid : cgroup_members(group)) ::kill(pid, SIGKILL);
  freeze(group, false);
}

std::optional<int64_t> parse_byte_quantity(std::string_view quantity) {
  if (manifest::check_quantity(quantity)) return std::nullopt;
  __extension__ typedef unsigned __int128 U128;  // NOLINT: exact arithmetic, no rounding
  constexpr U128 kMax = std::numeric_limits<int64_t>::max();

  std::string_view s = quantity;
  bool negative = false;
  if (s.front() == '+' || s.front() == '-') {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  const size_t number_end = s.find_first_not_of("0123456789.");
  std::string_view number = s.substr(0, number_end);
  const std::string_view suffix = number_end == std::string_view::npos ? "" : s.substr(number_end);
  // Trailing fractional zeros are not significant: "1.000" is 1.
  if (const size_t dot = number.find('.'); dot != std::string_view::npos) {
    while (number.size() > dot + 1 && number.back() == '0') number.remove_suffix(1);
    if (number.size() == dot + 1) number.remove_suffix(1);
  }
  U128 digits = 0;  // the number is digits * 10^-scale
  int significant = 0, scale = 0;
  bool fraction = false;
  for (char c : number) {
    if (c == '.') {
      fraction = true;
      continue;
    }
    if (fraction) ++scale;
    if (digits == 0 && c == '0') continue;
    if (++significant > 19) return std::nullopt;
    digits = digits * 10 + static_cast<unsigned>(c - '0');
  }

  int binary = 0, decimal = 0;  // the suffix multiplies by 2^binary * 10^decimal
  static constexpr std::pair<std::string_view, std::pair<int, int>> kSuffixes[] = {
      {"", {0, 0}},    {"n", {0, -9}},  {"u", {0, -6}},  {"m", {0, -3}},
      {"k", {0, 3}},   {"M", {0, 6}},   {"G", {0, 9}},   {"T", {0, 12}},
      {"P", {0, 15}},  {"E", {0, 18}},  {"Ki", {10, 0}}, {"Mi", {20, 0}},
      {"Gi", {30, 0}}, {"Ti", {40, 0}}, {"Pi", {50, 0}}, {"Ei", {60, 0}}};
  bool known = false;
  for (const auto& [text, factor] : kSuffixes)
    if (suffix == text) {
      std::tie(binary, decimal) = factor;
      known = true;
    }
  if (!known) {  // an exponent, "e9" or "E-3"; check_quantity vouched for its form
    std::string_view exponent = suffix.substr(1);
    const bool down = exponent.front() == '-';
    if (exponent.front() == '+' || exponent.front() == '-') exponent.remove_prefix(1);
    for (char c : exponent) decimal = std::min(decimal * 10 + (c - '0'), 1000);
    if (down) decimal = -decimal;
  }

  if (digits == 0) return 0;
  if (negative) return std::nullopt;
  const int exponent = decimal - scale;
  if (exponent >= 0) {
    U128 value = digits;
    for (int i = 0; i < exponent; ++i)
      if ((value *= 10) > kMax) return std::nullopt;
    for (int i = 0; i < binary; ++i)
      if ((value <<= 1) > kMax) return std::nullopt;
    return static_cast<int64_t>(value);
  }
  // digits < 10^19 < 2^64 and binary <= 60, so the numerator fits; 10^38 exceeds it, so anything
  // scaled down further is between 0 and 1, which rounds up to 1.
  if (-exponent > 38) return 1;
  const U128 numerator = digits << binary;
  U128 denominator = 1;
  for (int i = 0; i < -exponent; ++i) denominator *= 10;
  const U128 value = (numerator + denominator - 1) / denominator;
  if (value > kMax) return std::nullopt;
  return static_cast<int64_t>(value);
}

}  // namespace ticketctl::supervisor
