#pragma once
// Memory limits for containers, enforced by the kernel through a memory cgroup per container, as
// the kubelet enforces resources.limits.memory: the OOM killer kills a container over its limit
// and the kill is counted in the group, so the kubelet can report OOMKilled.
//
// Layout (the same shape for cgroup v1 and v2), under the control plane's own group <own>:
//   <own>/ticketctl-pods/                  base(): holds no processes
//   <own>/ticketctl-pods/<pod uid>_<name>  one per container with a memory limit
// cgroup v2 forbids processes in a group whose children use the memory controller ("no internal
// processes"), except in the root. So when <own> is not the root, detect() moves the control
// plane into <own>/ticketctl-supervisor first; it gives up (not available) when <own> holds other
// processes it does not own, e.g. an interactive shell's session scope. That works unchanged in a
// systemd unit or `systemd-run --user --scope -p Delegate=yes` scope and in a root cgroup, and
// never touches a group above <own>, which systemd owns. Any thread.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/result.h"

namespace ticketctl::supervisor {

// Where container memory limits can be enforced.
class MemoryCgroups {
 public:
  // cgroup v2 when the unified hierarchy (mount_root, or mount_root/unified on a hybrid system)
  // gives the memory controller to our own group, else cgroup v1's memory hierarchy
  // (mount_root/memory) when our group there is writable, else not available with the reason.
  // Prepares base() (creates it, enables the controller, may move this process; see above).
  // `self_cgroup` is /proc/self/cgroup's format; both paths are parameters so tests use fakes.
  static MemoryCgroups detect(const std::filesystem::path& mount_root = "/sys/fs/cgroup",
                              const std::filesystem::path& self_cgroup = "/proc/self/cgroup");
  bool available() const { return version_ != 0; }
  // Why not available, one line for a log and the docs, e.g. "cgroup v2 has no memory controller
  // delegated to /user.slice; cgroup v1 memory is not mounted". Empty when available.
  const std::string& reason() const { return reason_; }
  int version() const { return version_; }  // 1 or 2; 0 when not available
  // The directory under which per-container groups are made.
  const std::filesystem::path& base() const { return base_; }

  // base()/<name> limited to `limit_bytes` with swap excluded (v2 memory.max and memory.swap.max
  // = 0, v1 memory.limit_in_bytes and memory.memsw.limit_in_bytes, the swap files when the kernel
  // has them). An existing group with no processes (a previous run's) is reused. `name` is a
  // single path component (the kubelet passes "<pod uid>_<container name>").
  Result<std::filesystem::path> create(const std::string& name, int64_t limit_bytes) const;
  // <group>/cgroup.procs opened for writing, close-on-exec. Opened before fork; the child writes
  // "0" (itself) into it before exec, so the container and all its descendants are in the group.
  static Result<int> open_procs(const std::filesystem::path& group);
  // How many processes the kernel's OOM killer killed in the group ("oom_kill N" in v2
  // memory.events or v1 memory.oom_control); 0 when unreadable.
  static int oom_kills(const std::filesystem::path& group);
  // Removes the group once every process in it is gone; true when it is gone.
  static bool remove(const std::filesystem::path& group);

 private:
  int version_ = 0;
  std::filesystem::path base_;
  std::string reason_;
};

// Where every process of a container is kept, wherever it moves (setsid, double fork,
// reparenting): one cgroup per container, which no unprivileged process can leave. cgroup v2
// needs no controller for this (membership, cgroup.kill and cgroup.freeze are the core's), so it
// works wherever our own group is writable, also when the memory controller is not delegated; else
// cgroup v1's freezer hierarchy, which can also stop a fork race before the kill. Layout as for
// memory: <own>/ticketctl-pods/<pod uid>_<container>_<restart>, the same names, so in a v2
// hierarchy that also limits memory a container's memory group is its tracking group.
// Where neither is usable the kubelet walks the process tree instead (process_tree.h).
class TrackingCgroups {
 public:
  // `force` (TICKETCTL_PROCESS_TRACKING, documented as for tests): "cgroup2" or "freezer" use only
  // that one, "none" none, so the process-tree fallback runs on a machine that has cgroups.
  // Empty: cgroup v2, else v1 freezer, else not available with the reason.
  static TrackingCgroups detect(const std::filesystem::path& mount_root = "/sys/fs/cgroup",
                                const std::filesystem::path& self_cgroup = "/proc/self/cgroup",
                                std::string_view force = {});
  bool available() const { return version_ != 0; }
  const std::string& reason() const { return reason_; }
  int version() const { return version_; }  // 2 or 1 (freezer); 0 when not available
  const std::filesystem::path& base() const { return base_; }
  // base()/<name>, empty. A previous run's group that still holds processes is an error.
  Result<std::filesystem::path> create(const std::string& name) const;

 private:
  int version_ = 0;
  std::filesystem::path base_;
  std::string reason_;
};

// The processes in a group (cgroup.procs); empty when it is gone.
std::vector<pid_t> cgroup_members(const std::filesystem::path& group);
// SIGKILL to every process in the group so that none can fork away meanwhile: cgroup.kill where
// the kernel has it (v2, Linux 5.14), else the group is frozen, each member killed, then thawed.
void kill_cgroup(const std::filesystem::path& group);

// A memory quantity in bytes, rounded up as Kubernetes rounds: "128Mi" -> 134217728,
// "1G" -> 1000000000, "1.5Gi", "1e9", "100m" -> 1. nullopt when not a quantity, negative, or
// beyond int64 (or written with more than 19 significant digits).
std::optional<int64_t> parse_byte_quantity(std::string_view quantity);

}  // namespace ticketctl::supervisor
