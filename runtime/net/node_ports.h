#pragma once
// NodePorts are host ports, so every control plane of a user on this machine allocates them from
// one range through one registry: a JSON file under a per-user directory (never a project's
// state directory), read and rewritten under an flock. Each entry names the control plane that
// holds the port (its state directory, pid and the pid's start time) and the Service; entries of
// a control plane that is gone (no such pid, or a pid reused by another process) are free again,
// so a killed control plane never keeps ports. Files are 0600 in a 0700 directory, opened
// relative to it with O_NOFOLLOW, so a planted symlink cannot redirect a write.
// One instance per control plane; its calls are serialised by the caller (the store's lock).

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "runtime/core/result.h"

namespace ticketctl::net {

// nodeports/ under $XDG_RUNTIME_DIR/ticketctl, else under $XDG_STATE_HOME/ticketctl or
// ~/.local/state/ticketctl (where the default state directories live), else under
// /tmp/ticketctl-<uid>.
std::filesystem::path default_node_port_dir();

// A process's start time in clock ticks since boot (/proc/<pid>/stat), 0 when it is gone: with
// the pid it names one process, even after the pid is reused.
uint64_t process_start_time(pid_t pid);

// TCP ports some socket on this machine listens on (/proc/net/tcp and tcp6).
std::set<int> listening_tcp_ports();

class NodePortRegistry {
 public:
  // Creates `dir` (0700) if needed; refuses a directory another user owns, that others may
  // write, or that is a symlink. `state_dir` names this control plane in the entries.
  static Result<std::unique_ptr<NodePortRegistry>> open(const std::filesystem::path& dir,
                                                        std::string state_dir);
  ~NodePortRegistry();
  NodePortRegistry(const NodePortRegistry&) = delete;
  NodePortRegistry& operator=(const NodePortRegistry&) = delete;

  // Ports held by other live control planes: port -> their state directory.
  Result<std::map<int, std::string>> held_by_others();
  // Records `port` as this control plane's for `service` ("ns/name"). AlreadyExists, naming the
  // other project, when another live control plane holds it.
  Result<bool> claim(int port, const std::string& service);
  // Makes this control plane's entries exactly `ports` (port -> service): frees the ports of
  // deleted Services and of claims whose write was rolled back, claims what is missing. Returns
  // the ports of `ports` that other live control planes hold (port -> their state directory).
  Result<std::map<int, std::string>> sync(const std::map<int, std::string>& ports);
  // Frees every entry of this control plane (a clean shutdown).
  void release_all() { sync({}); }

  const std::filesystem::path& file() const { return file_; }

 private:
  NodePortRegistry(int dir_fd, std::filesystem::path dir, std::string state_dir);
  struct Entries;
  // Runs `change` on the registry's entries under the lock; writes them back when it returns
  // true.
  template <class Change>
  Result<bool> locked(Change&& change);

  int dir_fd_;
  int lock_fd_ = -1;
  std::filesystem::path dir_, file_;
  std::string state_dir_;
  pid_t pid_;
  uint64_t start_time_;
};

}  // namespace ticketctl::net
