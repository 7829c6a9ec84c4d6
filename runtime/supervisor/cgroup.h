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

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

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

// A memory quantity in bytes, rounded up as Kubernetes rounds: "128Mi" -> 134217728,
// "1G" -> 1000000000, "1.5Gi", "1e9", "100m" -> 1. nullopt when not a quantity, negative, or
// beyond int64 (or written with more than 19 significant digits).
std::optional<int64_t> parse_byte_quantity(std::string_view quantity);

}  // namespace ticketctl::supervisor
