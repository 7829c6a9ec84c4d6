#include "runtime/net/node_ports.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "runtime/manifest/json.h"

namespace ticketctl::net {
namespace fs = std::filesystem;
namespace {

constexpr const char* kFile = "nodeports.json";
constexpr const char* kLock = "nodeports.lock";
// 2,768 entries of a few hundred bytes each; anything bigger is not a registry we wrote.
constexpr size_t kMaxFileSize = 4 << 20;

struct Entry {
  std::string state_dir;
  pid_t pid = 0;
  uint64_t start_time = 0;
  std::string service;
};

std::string errno_text() {
  return std::strerror(errno);
}

void read_listening(const char* file, std::set<int>& out) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    if (!(fields >> slot >> local >> remote >> state) || state != "0A") continue;  // 0A: LISTEN
    const size_t colon = local.rfind(':');
    if (colon == std::string::npos) continue;
    out.insert(static_cast<int>(std::strtol(local.c_str() + colon + 1, nullptr, 16)));
  }
}

}  // namespace

struct NodePortRegistry::Entries {
  std::map<int, Entry> ports;
};

fs::path default_node_port_dir() {
  const auto absolute_env = [](const char* name) -> fs::path {
    const char* v = std::getenv(name);
    return v && v[0] == '/' ? fs::path(v) : fs::path();
  };
  // A directory of its own, which this code creates 0700, whatever made its parents.
  if (fs::path p = absolute_env("XDG_RUNTIME_DIR"); !p.empty()) return p / "ticketctl/nodeports";
  if (fs::path p = absolute_env("XDG_STATE_HOME"); !p.empty()) return p / "ticketctl/nodeports";
  if (fs::path p = absolute_env("HOME"); !p.empty())
    return p / ".local/state/ticketctl/nodeports";
  return fs::path("/tmp") / fmt::format("ticketctl-{}", ::geteuid()) / "nodeports";
}

uint64_t process_start_time(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  // The command name may hold spaces and parentheses: fields are counted after the last ')'.
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(paren + 1));
  std::string field;
  // Field 3 (state) comes first; starttime is field 22.
  for (int i = 3; i <= 22; ++i)
    if (!(fields >> field)) return 0;
  return std::strtoull(field.c_str(), nullptr, 10);
}

std::set<int> listening_tcp_ports() {
  std::set<int> out;
  read_listening("/proc/net/tcp", out);
  read_listening("/proc/net/tcp6", out);
  return out;
}

Result<std::unique_ptr<NodePortRegistry>> NodePortRegistry::open(const fs::path& dir,
                                                                 std::string state_dir) {
  std::error_code ec;
  fs::create_directories(dir.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Error{ErrorCode::Internal,
                 fmt::format("cannot create the nodePort registry directory {}: {}", dir.string(),
                             errno_text())};
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return Error{ErrorCode::Internal,
                 fmt::format("cannot open the nodePort registry directory {}: {}", dir.string(),
                             errno == ELOOP || errno == ENOTDIR ? "it is a symlink or not a "
                                                                  "directory"
                                                                : errno_text())};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_uid != ::geteuid() || (st.st_mode & 022) != 0) {
    ::close(fd);
    return Error{ErrorCode::Internal,
                 fmt::format("refusing the nodePort registry directory {}: it must belong to uid "
                             "{} and be writable by nobody else (it belongs to uid {}, mode "
                             "{:o}); remove it, or set XDG_RUNTIME_DIR to a private directory",
                             dir.string(), ::geteuid(), st.st_uid, st.st_mode & 07777)};
  }
  std::unique_ptr<NodePortRegistry> registry(new NodePortRegistry(fd, dir, std::move(state_dir)));
  registry->lock_fd_ = ::openat(fd, kLock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (registry->lock_fd_ < 0)
    return Error{ErrorCode::Internal,
                 fmt::format("cannot open {}: {}", (dir / kLock).string(), errno_text())};
  ::fchmod(registry->lock_fd_, 0600);
  return registry;
}

NodePortRegistry::NodePortRegistry(int dir_fd, fs::path dir, std::string state_dir)
    : dir_fd_(dir_fd),
      dir_(std::move(dir)),
      file_(dir_ / kFile),
      state_dir_(std::move(state_dir)),
      pid_(::getpid()),
      start_time_(process_start_time(::getpid())) {}

NodePortRegistry::~NodePortRegistry() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
  ::close(dir_fd_);
}

template <class Change>
Result<bool> NodePortRegistry::locked(Change&& change) {
  while (::flock(lock_fd_, LOCK_EX) != 0)
    if (errno != EINTR)
      return Error{ErrorCode::Internal,
                   fmt::format("cannot lock {}: {}", (dir_ / kLock).string(), errno_text())};
  struct Unlock {
    int fd;
    ~Unlock() { ::flock(fd, LOCK_UN); }
  } unlock{lock_fd_};

  Entries entries;
  if (const int fd = ::openat(dir_fd_, kFile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC); fd >= 0) {
    std::string text;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 && text.size() <= kMaxFileSize)
      text.append(buf, static_cast<size_t>(n));
    ::close(fd);
    // A registry we cannot read is treated as empty and rewritten: its entries only ever
    // describe running control planes, which claim their ports again on their next sync.
    const Json doc = text.size() <= kMaxFileSize ? Json::parse(text, nullptr, false) : Json();
    for (const auto& [port, e] : json_at(doc, "ports").items()) {
      const int number = std::atoi(port.c_str());
      if (number <= 0 || !e.is_object()) continue;
      Entry entry;
      entry.state_dir = e.value("stateDir", "");
      entry.pid = e.value("pid", 0);
      entry.start_time = e.value("startTime", uint64_t{0});
      entry.service = e.value("service", "");
      entries.ports[number] = std::move(entry);
    }
  } else if (errno != ENOENT) {
    return Error{ErrorCode::Internal,
                 fmt::format("cannot read {}: {}", file_.string(), errno_text())};
  }

  // Entries of control planes that are gone are dropped on every change.
  std::map<std::pair<pid_t, uint64_t>, bool> alive;
  const auto live = [&](const Entry& e) {
    auto [it, fresh] = alive.try_emplace({e.pid, e.start_time}, false);
    if (fresh)
      it->second = e.pid > 0 && e.start_time != 0 && process_start_time(e.pid) == e.start_time;
    return it->second;
  };
  // An entry of this state directory is ours whoever wrote it: the directory's flock makes this
  // control plane its only one, so an earlier one of it (killed with -9, perhaps not yet reaped)
  // holds nothing any more.
  const auto ours = [&](const Entry& e) {
    return (e.pid == pid_ && e.start_time == start_time_) ||
           (!state_dir_.empty() && e.state_dir == state_dir_);
  };
  if (!change(entries.ports, live, ours)) return true;
  for (auto it = entries.ports.begin(); it != entries.ports.end();)
    it = live(it->second) ? std::next(it) : entries.ports.erase(it);

  Json ports = Json::object();
  for (const auto& [port, e] : entries.ports)
    ports[std::to_string(port)] = {{"stateDir", e.state_dir},
                                   {"pid", e.pid},
                                   {"startTime", e.start_time},
                                   {"service", e.service}};
  const std::string text = Json{{"ports", ports}}.dump(1) + "\n";
  const std::string tmp = fmt::format("{}.{}.tmp", kFile, pid_);
  ::unlinkat(dir_fd_, tmp.c_str(), 0);
  const int fd =
      ::openat(dir_fd_, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return Error{ErrorCode::Internal,
                 fmt::format("cannot write {}: {}", (dir_ / tmp).string(), errno_text())};
  ::fchmod(fd, 0600);
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  // Renamed into place, so a reader never sees half a registry.
  if (!written || ::renameat(dir_fd_, tmp.c_str(), dir_fd_, kFile) != 0) {
    const std::string why = errno_text();
    ::unlinkat(dir_fd_, tmp.c_str(), 0);
    return Error{ErrorCode::Internal, fmt::format("cannot write {}: {}", file_.string(), why)};
  }
  return true;
}

Result<std::map<int, std::string>> NodePortRegistry::held_by_others() {
  std::map<int, std::string> out;
  Result<bool> r = locked([&](std::map<int, Entry>& ports, auto& live, auto& ours) {
    for (const auto& [port, e] : ports)
      if (!ours(e) && live(e)) out[port] = e.state_dir;
    return false;
  });
  if (!r.ok()) return r.error();
  return out;
}

Result<bool> NodePortRegistry::claim(int port, const std::string& service) {
  std::optional<std::string> holder;
  Result<bool> r = locked([&](std::map<int, Entry>& ports, auto& live, auto& ours) {
    auto it = ports.find(port);
    if (it != ports.end() && !ours(it->second) && live(it->second)) {
      holder = it->second.state_dir;
      return false;
    }
    if (it != ports.end() && ours(it->second) && it->second.service == service) return false;
    ports[port] = Entry{state_dir_, pid_, start_time_, service};
    return true;
  });
  if (!r.ok()) return r;
  if (holder)
    return Error{ErrorCode::AlreadyExists,
                 fmt::format("port {} is held by another ticketctl control plane (state "
                             "directory {})",
                             port, *holder)};
  return true;
}

Result<std::map<int, std::string>> NodePortRegistry::sync(const std::map<int, std::string>& want) {
  std::map<int, std::string> conflicts;
  Result<bool> r = locked([&](std::map<int, Entry>& ports, auto& live, auto& ours) {
    bool changed = false;
    for (auto it = ports.begin(); it != ports.end();) {
      if ((ours(it->second) && !want.count(it->first)) || !live(it->second)) {
        it = ports.erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
    for (const auto& [port, service] : want) {
      auto it = ports.find(port);
      if (it != ports.end() && !ours(it->second)) {
        conflicts[port] = it->second.state_dir;
        continue;
      }
      if (it != ports.end() && it->second.service == service) continue;
      ports[port] = Entry{state_dir_, pid_, start_time_, service};
      changed = true;
    }
    return changed;
  });
  if (!r.ok()) return r.error();
  return conflicts;
}

}  // namespace ticketctl::net
